package conform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/demohost/demohost/host/subject"
	"github.com/demohost/demohost/internal/wire"
	"github.com/demohost/demohost/sdk/option"
)

// Check names, in the order they run. Each fault kind adds "fault KIND"
// and "fresh-process revert KIND" after "setup".
const (
	CheckHandshake     = "handshake"
	CheckDescribe      = "describe"
	CheckCallOrder     = "call order"
	CheckUnknownOption = "unknown option refused"
	CheckBadValue      = "bad option value refused"
	CheckConfigure     = "configure"
	CheckChapters      = "chapters"
	CheckSetup         = "setup"
	CheckHealthStream  = "health stream survives a failing Health"
	CheckFreshTeardown = "teardown without setup"
	CheckSIGTERM       = "revert on SIGTERM"
	CheckHostKilled    = "revert when the host is SIGKILLed"
	CheckTeardown      = "teardown"
)

// CheckFault and CheckFreshRevert name the checks of one fault kind.
func CheckFault(kind string) string       { return "fault " + kind }
func CheckFreshRevert(kind string) string { return "fresh-process revert " + kind }

// unknownOption is the option conform passes to see it refused.
const unknownOption = "conform_no_such_option"

// callTimeout bounds each unary call conform makes itself.
const callTimeout = 15 * time.Second

// run is the suite: the protocol checks on one process, then the fault and
// exit-path checks.
func (s *suite) run() error {
	var main *proc
	if s.do(check{CheckHandshake, func() (Status, string) {
		start := time.Now()
		p, err := s.start("main")
		if err != nil {
			return Fail, err.Error()
		}
		main, s.first = p, p
		return Pass, fmt.Sprintf("protocol 2 over gRPC with mutual TLS in %s (pid %d)", seconds(time.Since(start)), p.plugin.PID())
	}}) != Pass {
		s.skip("the handshake failed", CheckDescribe, CheckCallOrder, CheckUnknownOption, CheckBadValue, CheckConfigure,
			CheckChapters, CheckSetup, CheckHealthStream, CheckFreshTeardown, CheckSIGTERM, CheckHostKilled, CheckTeardown)
		return nil
	}
	if s.do(check{CheckDescribe, func() (Status, string) { return s.describe(main) }}) != Pass {
		s.skip("Describe failed", CheckCallOrder, CheckUnknownOption, CheckBadValue, CheckConfigure,
			CheckChapters, CheckSetup, CheckHealthStream, CheckFreshTeardown, CheckSIGTERM, CheckHostKilled, CheckTeardown)
		return nil
	}
	opts, err := subject.CheckOptions(s.desc, s.cfg.Set)
	if err != nil {
		return &UsageError{err}
	}
	s.opts = opts
	s.do(check{CheckCallOrder, func() (Status, string) { return callOrder(s.ctx, main.wire) }})
	s.do(check{CheckUnknownOption, func() (Status, string) { return s.unknownOption(main) }})
	s.do(check{CheckBadValue, func() (Status, string) { return s.badValue(main) }})
	if s.do(check{CheckConfigure, func() (Status, string) { return s.configure(main) }}) != Pass {
		s.skip("Configure failed", CheckChapters, CheckSetup, CheckHealthStream, CheckFreshTeardown, CheckSIGTERM, CheckHostKilled, CheckTeardown)
		return nil
	}
	s.do(check{CheckChapters, func() (Status, string) { return s.checkChapters(main) }})
	setUp := s.do(check{CheckSetup, func() (Status, string) { return s.setup(main) }}) != Fail
	for _, k := range s.desc.Faults {
		if !setUp {
			s.skip("Setup failed", CheckFault(k.Kind), CheckFreshRevert(k.Kind))
			continue
		}
		s.do(check{CheckFault(k.Kind), func() (Status, string) { return s.fault(k) }})
		s.do(check{CheckFreshRevert(k.Kind), func() (Status, string) { return s.freshRevert(k) }})
	}
	s.freshProcessChecks()
	if !setUp {
		s.skip("Setup failed", CheckSIGTERM, CheckHostKilled)
	} else {
		s.do(check{CheckSIGTERM, s.sigterm})
		s.do(check{CheckHostKilled, s.hostKilled})
	}
	s.do(check{CheckTeardown, s.teardown})
	return nil
}

func (s *suite) describe(p *proc) (Status, string) {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	d, err := p.client.Describe(ctx)
	if err != nil {
		return Fail, "Describe failed before Configure, with no cluster set up: " + err.Error() + " (Describe must answer at any time)"
	}
	if err := subject.CheckDescription(d); err != nil {
		return Fail, "Describe answered wrongly: " + err.Error()
	}
	s.desc = d
	s.report.Subject, s.report.Version = d.Name, d.Version
	kinds := make([]string, len(d.Faults))
	for i, k := range d.Faults {
		kinds[i] = k.Kind
	}
	faults := plural(len(d.Faults), "fault kind")
	if len(kinds) > 0 {
		faults += " (" + strings.Join(kinds, ", ") + ")"
	}
	return Pass, fmt.Sprintf("%s %s: %s, %s; answered before Configure, with no cluster set up", d.Name, d.Version, plural(len(d.Options), "option"), faults)
}

// callOrder asks for the chapters and a health snapshot before Configure:
// both must be refused with FAILED_PRECONDITION.
func callOrder(ctx context.Context, w wire.SubjectClient) (Status, string) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Chapters", func() error { _, err := w.Chapters(ctx, &wire.ChaptersRequest{}); return err }},
		{"GetHealth", func() error { _, err := w.GetHealth(ctx, &wire.GetHealthRequest{}); return err }},
	}
	var msgs []string
	for _, c := range calls {
		err := c.call()
		if err == nil {
			return Fail, c.name + " before Configure was answered: a plugin refuses every call but Describe before Configure with FAILED_PRECONDITION"
		}
		if code := status.Code(err); code != codes.FailedPrecondition {
			return Fail, fmt.Sprintf("%s before Configure was refused with %s (%s), want FAILED_PRECONDITION", c.name, code, status.Convert(err).Message())
		}
		msgs = append(msgs, c.name)
	}
	return Pass, strings.Join(msgs, " and ") + " before Configure refused with FAILED_PRECONDITION"
}

// configureRaw calls Configure on the wire, bypassing the host's own check
// of the options.
func (s *suite) configureRaw(p *proc, opts map[string]string) error {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	_, err := p.wire.Configure(ctx, &wire.ConfigureRequest{Options: opts})
	return err
}

// refused judges Configure's answer to options it must refuse.
func refused(err error, what string) (Status, string) {
	if err == nil {
		return Fail, "Configure accepted " + what + ": a plugin refuses it with INVALID_ARGUMENT (the host checks --set itself, but a plugin must not rely on that)"
	}
	msg := status.Convert(err).Message()
	if code := status.Code(err); code != codes.InvalidArgument {
		return Fail, fmt.Sprintf("Configure refused %s with %s (%s), want INVALID_ARGUMENT", what, code, msg)
	}
	return Pass, fmt.Sprintf("Configure refused %s with INVALID_ARGUMENT: %q", what, msg)
}

func (s *suite) unknownOption(p *proc) (Status, string) {
	opts := maps.Clone(s.opts)
	opts[unknownOption] = "1"
	return refused(s.configureRaw(p, opts), "an unknown option "+unknownOption+"=1")
}

func (s *suite) badValue(p *proc) (Status, string) {
	for _, o := range s.desc.Options {
		bad, ok := badValueFor(o)
		if !ok {
			continue
		}
		opts := maps.Clone(s.opts)
		opts[o.Name] = bad
		return refused(s.configureRaw(p, opts), fmt.Sprintf("%s=%s for %s %s option", o.Name, bad, article(o.Type.String()), o.Type))
	}
	return Skip, "no option has a type a value can break (every option is a string)"
}

// badValueFor is a value of the wrong kind for o, if its type has one.
func badValueFor(o option.Spec) (string, bool) {
	switch o.Type {
	case option.Int:
		return "three", true
	case option.Bool:
		return "maybe", true
	case option.Duration:
		return "soon", true
	case option.Float:
		return "many", true
	case option.Enum:
		bad := "conform-not-a-choice"
		for slices.Contains(o.Choices, bad) {
			bad += "-really"
		}
		return bad, true
	}
	return "", false
}

func (s *suite) configure(p *proc) (Status, string) {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	if err := p.client.Configure(ctx, s.opts); err != nil {
		return Fail, "Configure with the defaults filled in failed: " + err.Error()
	}
	why := fmt.Sprintf("%s, defaults filled in", plural(len(s.opts), "option"))
	if len(s.cfg.Set) > 0 {
		var set []string
		for _, k := range slices.Sorted(maps.Keys(s.cfg.Set)) {
			set = append(set, k+"="+s.cfg.Set[k])
		}
		why += ", --set " + strings.Join(set, " ")
	}
	return Pass, why
}

func (s *suite) checkChapters(p *proc) (Status, string) {
	ctx, cancel := context.WithTimeout(s.ctx, callTimeout)
	defer cancel()
	cs, err := p.client.Chapters(ctx)
	if err != nil {
		return Fail, "Chapters failed after Configure: " + err.Error()
	}
	if err := subject.CheckChapters(s.desc, cs); err != nil {
		return Fail, "invalid chapter list: " + err.Error()
	}
	s.chapters = cs
	faults, actions := 0, 0
	for _, c := range cs {
		if c.Fault != nil {
			faults++
		}
		if c.HasAction {
			actions++
		}
	}
	return Pass, fmt.Sprintf("%s (%s, %s), every fault of a declared kind with declared parameters",
		plural(len(cs), "chapter"), plural(faults, "fault"), plural(actions, "action"))
}

func (s *suite) setup(p *proc) (Status, string) {
	start := time.Now()
	if err := p.setup(s.ctx, s.cfg.SetupTimeout); err != nil {
		return Fail, "Setup failed: " + err.Error()
	}
	took := time.Since(start)
	h, ok, err := s.awaitSteady(p)
	if err != nil {
		return Fail, fmt.Sprintf("set up in %s, but %v", seconds(took), err)
	}
	s.main, s.base = p, baselineOf(h)
	if !ok {
		return Warn, fmt.Sprintf("set up in %s, but health was not steady within %s (%s): faults are judged against that", seconds(took), s.cfg.SteadyWithin, describe(h))
	}
	return Pass, fmt.Sprintf("set up in %s; health steady: %s", seconds(took), describe(h))
}

// awaitSteady opens p's health stream and waits for a steady snapshot. It
// returns the last snapshot seen and whether it was steady; an error when
// no snapshot came or the stream ended.
func (s *suite) awaitSteady(p *proc) (subject.Health, bool, error) {
	w := p.watchHealth()
	h, ok := w.await(s.ctx, 0, s.cfg.SteadyWithin, steady)
	if ok {
		return h, true, nil
	}
	if _, err := w.since(0); err != nil && !errors.Is(err, context.Canceled) {
		return h, false, fmt.Errorf("the health stream ended: %v", err)
	}
	if w.seq() == 0 {
		return h, false, fmt.Errorf("no health snapshot came within %s", s.cfg.SteadyWithin)
	}
	return h, false, nil
}

// article is "an" before a vowel ("an int option"), else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
