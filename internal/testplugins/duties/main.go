// Command duties is a test plugin for `demohost conform`, served straight
// on the wire (internal/wire and go-plugin, no sdk) so that it can break
// each duty the sdk would keep for it. Its subject attaches to a cluster it
// does not own, as a plugin attaches to a running TiKV or a compose
// project: real processes listed in the file of option nodes_file, one per
// line as "NAME pid=N,start=N". Its one fault kind, PROCESS_PAUSE, stops a
// node with SIGSTOP; the revert sends SIGCONT. A stopped node outlives the
// plugin, so a fault left behind is there for a fresh process to see.
//
// $DUTIES_BREAK picks the duty to break (empty: none):
//
//	sigterm  on SIGTERM (or SIGHUP, or its host gone), exit without reverting
//	handle   handles index this process's memory: a fresh process cannot revert them
//	health   a failing Health ends the health stream with an error
//	options  Configure accepts options the schema does not have
//	blind    health shows every node UP, paused or not (a fault shows no effect)
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/demohost/demohost/internal/wire"
	"github.com/demohost/demohost/sdk/process"
)

// BreakEnv names the duty to break.
const BreakEnv = "DUTIES_BREAK"

const pauseKind = "PROCESS_PAUSE"

type node struct {
	name string
	id   process.Identity
}

type fault struct {
	node   node
	handle string
}

type subject struct {
	wire.UnimplementedSubjectServer
	breaks string

	mu         sync.Mutex
	configured bool
	nodesFile  string
	nodes      []node // attached by Setup
	active     map[string]fault
	seq        int
}

func (s *subject) Describe(context.Context, *wire.DescribeRequest) (*wire.DescribeResponse, error) {
	return &wire.DescribeResponse{
		Name: "duties", Version: "1", Description: "processes of a cluster it does not own, paused and resumed",
		Options: []*wire.OptionSpec{
			{Name: "nodes_file", Type: wire.OptionType_STRING, Help: "the cluster: one \"NAME pid=N,start=N\" line per node"},
			{Name: "detect", Type: wire.OptionType_DURATION, Default: "0s", Help: "unused: a typed option for conform to break"},
		},
		Faults: []*wire.FaultKind{{Kind: pauseKind, Description: "SIGSTOP a node; revert sends SIGCONT", Target: "a node name; empty for the first one UP"}},
	}, nil
}

func (s *subject) Configure(_ context.Context, req *wire.ConfigureRequest) (*wire.ConfigureResponse, error) {
	for k, v := range req.GetOptions() {
		switch k {
		case "nodes_file":
		case "detect":
			if _, err := time.ParseDuration(v); err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "option detect=%q: want a duration such as 1s", v)
			}
		default:
			if s.breaks != "options" {
				return nil, status.Errorf(codes.InvalidArgument, "unknown option %q: known options are nodes_file, detect", k)
			}
		}
	}
	if req.GetOptions()["nodes_file"] == "" {
		return nil, status.Error(codes.InvalidArgument, "option nodes_file is required: the file listing the cluster's processes")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configured, s.nodesFile = true, req.GetOptions()["nodes_file"]
	return &wire.ConfigureResponse{}, nil
}

func (s *subject) ready(call string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.configured {
		return status.Errorf(codes.FailedPrecondition, "%s before Configure", call)
	}
	return nil
}

func (s *subject) Chapters(context.Context, *wire.ChaptersRequest) (*wire.ChaptersResponse, error) {
	if err := s.ready("Chapters"); err != nil {
		return nil, err
	}
	return &wire.ChaptersResponse{Chapters: []*wire.Chapter{
		{Id: "pause", Title: "Pause a node", Fault: &wire.Fault{Kind: pauseKind, Name: "pause a node"}},
	}}, nil
}

// Setup attaches to the cluster of nodes_file.
func (s *subject) Setup(_ *wire.SetupRequest, stream wire.Subject_SetupServer) error {
	if err := s.ready("Setup"); err != nil {
		return err
	}
	s.mu.Lock()
	file := s.nodesFile
	s.mu.Unlock()
	nodes, err := readNodes(file)
	if err != nil {
		return status.Error(codes.Unknown, err.Error())
	}
	s.mu.Lock()
	s.nodes = nodes
	s.mu.Unlock()
	return stream.Send(&wire.Progress{Message: fmt.Sprintf("attached to %d nodes", len(nodes))})
}

func readNodes(file string) ([]node, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("nodes_file: %w", err)
	}
	defer f.Close()
	var nodes []node
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		id, err := process.ParseIdentity(rest)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, node{name: name, id: id})
	}
	return nodes, sc.Err()
}

// Teardown detaches: the cluster is not the plugin's to stop, and a fresh
// process has nothing of its own to remove.
func (s *subject) Teardown(_ *wire.TeardownRequest, stream wire.Subject_TeardownServer) error {
	if err := s.ready("Teardown"); err != nil {
		return err
	}
	s.mu.Lock()
	s.nodes = nil
	s.mu.Unlock()
	return stream.Send(&wire.Progress{Message: "detached"})
}

func (s *subject) InjectChaos(_ context.Context, req *wire.InjectChaosRequest) (*wire.InjectChaosResponse, error) {
	if err := s.ready("InjectChaos"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target := req.GetFault().GetTarget()
	for _, n := range s.nodes {
		if (target == "" && !n.id.Stopped()) || n.name == target {
			if err := n.id.Signal(syscall.SIGSTOP); err != nil {
				return nil, status.Error(codes.Unknown, err.Error())
			}
			handle := "pause:" + n.name + ":" + n.id.String()
			if s.breaks == "handle" {
				s.seq++
				handle = fmt.Sprintf("fault-%d", s.seq)
			}
			s.active[handle] = fault{node: n, handle: handle}
			return &wire.InjectChaosResponse{Handle: handle, Target: n.name, Detail: fmt.Sprintf("SIGSTOP %s (pid %d)", n.name, n.id.Pid)}, nil
		}
	}
	return nil, status.Errorf(codes.InvalidArgument, "no node %q is UP", target)
}

func (s *subject) RevertChaos(_ context.Context, req *wire.RevertChaosRequest) (*wire.RevertChaosResponse, error) {
	if err := s.ready("RevertChaos"); err != nil {
		return nil, err
	}
	detail, err := s.revert(req.GetHandle())
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &wire.RevertChaosResponse{Detail: detail}, nil
}

// revert resumes the node behind handle.
func (s *subject) revert(handle string) (string, error) {
	s.mu.Lock()
	f, known := s.active[handle]
	delete(s.active, handle)
	s.mu.Unlock()
	var n node
	switch {
	case known:
		n = f.node
	case strings.HasPrefix(handle, "pause:"):
		parts := strings.SplitN(handle, ":", 3)
		id, err := process.ParseIdentity(parts[len(parts)-1])
		if err != nil {
			return "", fmt.Errorf("bad handle %q: %w", handle, err)
		}
		n = node{name: parts[1], id: id}
	default: // an index into another process's memory: nothing known here
		return "nothing to revert: " + handle + " is not active here", nil
	}
	if err := n.id.Signal(syscall.SIGCONT); errors.Is(err, process.ErrGone) {
		return n.name + " is gone: nothing to resume", nil
	} else if err != nil {
		return "", err
	}
	return fmt.Sprintf("SIGCONT %s (pid %d)", n.name, n.id.Pid), nil
}

// revertAll reverts every active fault (the exit paths).
func (s *subject) revertAll() {
	s.mu.Lock()
	var handles []string
	for h := range s.active {
		handles = append(handles, h)
	}
	s.mu.Unlock()
	for _, h := range handles {
		_, _ = s.revert(h)
	}
}

func (s *subject) health() (*wire.HealthSnapshot, error) {
	s.mu.Lock()
	nodes := s.nodes
	s.mu.Unlock()
	if nodes == nil {
		return nil, errors.New("not attached to a cluster: Setup first")
	}
	h := &wire.HealthSnapshot{TakenAt: timestamppb.Now()}
	for _, n := range nodes {
		state := wire.NodeState_UP
		switch {
		case s.breaks == "blind":
		case n.id.Stopped():
			state = wire.NodeState_PAUSED
			h.Violations = append(h.Violations, &wire.Violation{Invariant: "node_paused", Severity: wire.Severity_CRITICAL, Target: n.name, Message: n.name + " is stopped"})
		case !n.id.Alive():
			state = wire.NodeState_DOWN
		}
		h.Nodes = append(h.Nodes, &wire.Node{Id: n.name, Name: n.name, State: state})
	}
	return h, nil
}

func (s *subject) GetHealth(context.Context, *wire.GetHealthRequest) (*wire.HealthSnapshot, error) {
	if err := s.ready("GetHealth"); err != nil {
		return nil, err
	}
	h, err := s.health()
	if err != nil {
		return &wire.HealthSnapshot{Error: err.Error()}, nil
	}
	return h, nil
}

func (s *subject) WatchHealth(req *wire.WatchHealthRequest, stream wire.Subject_WatchHealthServer) error {
	if err := s.ready("WatchHealth"); err != nil {
		return err
	}
	interval := max(req.GetInterval().AsDuration(), 10*time.Millisecond)
	for {
		h, err := s.health()
		if err != nil {
			if s.breaks == "health" {
				return status.Error(codes.Unavailable, err.Error())
			}
			h = &wire.HealthSnapshot{TakenAt: timestamppb.Now(), Error: err.Error()}
		}
		if err := stream.Send(h); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-time.After(interval):
		}
	}
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl *subject
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	wire.RegisterSubjectServer(s, p.impl)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (interface{}, error) {
	return nil, errors.New("a plugin only serves")
}

func main() {
	s := &subject{breaks: os.Getenv(BreakEnv), active: map[string]fault{}}
	exit := func() {
		if s.breaks != "sigterm" {
			s.revertAll()
		}
		os.Exit(0)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		exit()
	}()
	go func() { // the host gone: we are re-parented
		ppid := os.Getppid()
		for range time.Tick(50 * time.Millisecond) {
			if os.Getppid() != ppid {
				exit()
			}
		}
	}()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  plugin.HandshakeConfig{MagicCookieKey: "DEMOHOST_PLUGIN", MagicCookieValue: "subject-v1-5c1e0b7a"},
		VersionedPlugins: map[int]plugin.PluginSet{2: {"subject": &grpcPlugin{impl: s}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
	exit()
}
