package watch

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/demohost/demohost/internal/testkit"
)

func groupGone(pgid int) bool {
	return !GroupAlive(pgid)
}

func TestCapturesStdoutAndStderrAndStopsTheGroup(t *testing.T) {
	p, err := Start("mon", `echo "from stdout"; echo "from stderr" >&2; sleep 60 & sleep 60 & wait`, 0)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "both lines", func() bool {
		l := p.Lines()
		return slices.Contains(l, "from stdout") && slices.Contains(l, "from stderr")
	})
	if done, _ := p.Exited(); done {
		t.Fatal("command exited before Stop")
	}
	pgid := p.Pid()
	p.Stop(2 * time.Second)
	if !groupGone(pgid) {
		t.Fatalf("process group %d still has members after Stop", pgid)
	}
	if done, how := p.Exited(); !done || how != "" {
		t.Errorf("after Stop: Exited() = %v, %q; want true, \"\"", done, how)
	}
	p.Stop(time.Second) // a second Stop is harmless
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	p, err := Start("stubborn", `trap '' TERM; echo ready; while :; do sleep 0.1; done`, 0)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "ready", func() bool { return slices.Contains(p.Lines(), "ready") })
	pgid := p.Pid()
	p.Stop(300 * time.Millisecond)
	if !groupGone(pgid) {
		t.Fatalf("process group %d survived SIGKILL", pgid)
	}
}

func TestReportsExitStatus(t *testing.T) {
	p, err := Start("fails", `echo bye; exit 3`, 0)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "exit", func() bool { done, _ := p.Exited(); return done })
	if _, how := p.Exited(); how != "exit status 3" {
		t.Errorf("Exited() reason = %q, want exit status 3", how)
	}
	select {
	case <-p.Changed():
	default:
		t.Error("no change notified after output and exit")
	}
	p.Stop(time.Second)
	if got := p.Lines(); !reflect.DeepEqual(got, []string{"bye"}) {
		t.Errorf("Lines() = %q, want [bye]", got)
	}
}

func TestKeepsOnlyTheLastLines(t *testing.T) {
	p, err := Start("count", `for i in 1 2 3 4 5 6 7; do echo $i; done`, 3)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "exit", func() bool { done, _ := p.Exited(); return done })
	p.Stop(time.Second)
	if got := p.Lines(); !reflect.DeepEqual(got, []string{"5", "6", "7"}) {
		t.Errorf("Lines() = %q, want the last three", got)
	}
}

func TestClean(t *testing.T) {
	tests := map[string]string{
		"plain\n":                     "plain",
		"\x1b[31mred\x1b[0m text\r\n": "red text",
		"10%\r50%\r100%":              "100%",
		"a\tb":                        "a    b",
		"bell\a and \x1b(B charset":   "bell and  charset",
		"bad \xff byte":               "bad \uFFFD byte",
	}
	for in, want := range tests {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRing(t *testing.T) {
	r := NewRing(2)
	if len(r.Lines()) != 0 {
		t.Fatal("new ring not empty")
	}
	r.Add("a")
	r.Add("b")
	r.Add("c")
	if got := r.Lines(); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("Lines() = %q, want [b c]", got)
	}
}
