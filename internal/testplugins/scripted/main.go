// Command scripted is a test plugin whose description, chapters and
// health the test controls. $SCRIPTED_SCRIPT names a JSON Script; the
// health it reports is read from Script.HealthFile whenever that file
// changes (and pushed to the host at once); each fault it injects and
// reverts leaves a line in Script.Ledger. Host tests use it to drive every
// expectation mode, failing actions and fault kinds the host never heard
// of, through the real plugin protocol.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/demohost/demohost/sdk"
)

// Script is what the test writes.
type Script struct {
	Name     string
	Options  []sdk.Option
	Faults   []sdk.FaultKind
	Chapters []Chapter
	// HealthFile holds a JSON sdk.HealthSnapshot; empty: one UP node.
	HealthFile string
	// Ledger, if set, gets a line "inject KIND TARGET PARAMS" or "revert
	// HANDLE" per call.
	Ledger string
	// InjectError, if set, makes InjectChaos fail with it.
	InjectError string
	// Calls, if set, gets a line "configure PID", "setup PID", "teardown
	// PID", "inject PID HANDLE" or "revert PID HANDLE" per call, so a test
	// sees which plugin process did what.
	Calls string
}

// Chapter is an sdk.Chapter whose action is described, not coded.
type Chapter struct {
	sdk.Chapter
	// Action: "" none, "ok", "fail" (an error), "fatal" (sdk.Fatal).
	Action      string
	ActionLines []string
}

type subject struct {
	script Script
	mu     sync.Mutex
	stop   context.CancelFunc
}

func (s *subject) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: s.script.Name, Version: "1", Options: s.script.Options, Faults: s.script.Faults}, nil
}

func (s *subject) Configure(context.Context, sdk.ConfigureRequest) error {
	s.call("configure")
	return nil
}

func (s *subject) Chapters(context.Context) ([]sdk.Chapter, error) {
	var out []sdk.Chapter
	for _, c := range s.script.Chapters {
		ch := c.Chapter
		if c.Action != "" {
			ch.Action = action(c)
		}
		out = append(out, ch)
	}
	return out, nil
}

func action(c Chapter) func(context.Context, sdk.Progress) error {
	return func(ctx context.Context, status sdk.Progress) error {
		for _, l := range c.ActionLines {
			status.Warning(l)
		}
		switch c.Action {
		case "fail":
			return errors.New("the action failed on purpose")
		case "fatal":
			return sdk.Fatal(errors.New("the cluster is gone"))
		}
		return nil
	}
}

// Setup pushes a snapshot whenever the health file changes.
func (s *subject) Setup(_ context.Context, req sdk.SetupRequest) error {
	s.call("setup")
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.stop = cancel
	s.mu.Unlock()
	go func() {
		var last time.Time
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if info, err := os.Stat(s.script.HealthFile); err == nil && !info.ModTime().Equal(last) {
				last = info.ModTime()
				req.HealthChanged()
			}
		}
	}()
	return nil
}

func (s *subject) Teardown(context.Context, sdk.TeardownRequest) error {
	s.call("teardown")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
	}
	return nil
}

func (s *subject) InjectChaos(_ context.Context, req sdk.InjectRequest) (sdk.Injected, error) {
	if s.script.InjectError != "" {
		return sdk.Injected{}, errors.New(s.script.InjectError)
	}
	params, _ := json.Marshal(req.Fault.Params)
	handle := fmt.Sprintf("%s@%d", req.Fault.Kind, time.Now().UnixNano())
	s.note("inject %s %s %s", req.Fault.Kind, req.Fault.Target, params)
	s.call("inject", handle)
	return sdk.Injected{Handle: handle, Target: "node-1", Detail: "did " + req.Fault.Kind}, nil
}

func (s *subject) RevertChaos(_ context.Context, req sdk.RevertRequest) (sdk.Reverted, error) {
	s.note("revert %s", req.Handle)
	s.call("revert", req.Handle)
	return sdk.Reverted{Detail: "undid " + req.Fault.Kind + " on " + req.Target}, nil
}

func (s *subject) note(format string, args ...any) { appendLine(s.script.Ledger, format, args...) }

// call records a call, with this process's pid, in Script.Calls.
func (s *subject) call(name string, args ...string) {
	appendLine(s.script.Calls, "%s", strings.Join(append([]string{name, strconv.Itoa(os.Getpid())}, args...), " "))
}

// appendLine appends a line to the file at path, if path is set.
func appendLine(path, format string, args ...any) {
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

func (s *subject) Health(context.Context) (sdk.HealthSnapshot, error) {
	h := sdk.HealthSnapshot{Nodes: []sdk.Node{{ID: "node-1", State: sdk.Up}}}
	if s.script.HealthFile == "" {
		return h, nil
	}
	b, err := os.ReadFile(s.script.HealthFile)
	if err != nil {
		return h, nil
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("health file: %v", err)
	}
	h.TakenAt = time.Now()
	return h, nil
}

func main() {
	var script Script
	b, err := os.ReadFile(os.Getenv("SCRIPTED_SCRIPT"))
	if err == nil {
		err = json.Unmarshal(b, &script)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scripted: SCRIPTED_SCRIPT:", err)
		os.Exit(1)
	}
	sdk.Serve(&subject{script: script})
}
