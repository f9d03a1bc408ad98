package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/demohost/demohost/host/runner"
)

// The journal's screen record rebuilds every Snapshot the run published:
// whatever a view received, in order, is among the Snapshots rebuilt from
// the journal as written to disk. The run goes back a chapter and forward
// again, so the view leaves the newest chapter and returns to it.
func TestScreenRecordRebuildsEveryPublishedSnapshot(t *testing.T) {
	l := launchExample(t, map[string]string{"countdown": "1s", "detect_after": "100ms", "target": "node-2"})
	cfg, _ := l.config(true)
	r := runner.New(cfg)
	snaps, _ := r.Subscribe()
	received := make(chan []runner.Snapshot)
	go func() {
		var all []runner.Snapshot
		wentBack, cameBack := false, false
		for s := range snaps {
			all = append(all, s)
			switch {
			case !wentBack && s.Index == 2:
				r.Prev()
				wentBack = true
			case wentBack && !cameBack && s.Index == 1:
				r.Next()
				r.Next()
				cameBack = true
			}
		}
		received <- all
	}()
	j, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := <-received
	rec, err := runner.ReadRecording(runner.Reread(t, j))
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for i, s := range seen {
		want := runner.Canon(s)
		for k < len(rec.Frames) && !reflect.DeepEqual(runner.Canon(rec.Frames[k].Snapshot), want) {
			k++
		}
		if k == len(rec.Frames) {
			t.Fatalf("snapshot %d of %d the view received is not rebuilt from the journal (in order):\n%s", i+1, len(seen), dump(want))
		}
	}
	back := false
	for i := 1; i < len(rec.Frames); i++ {
		back = back || rec.Frames[i].Snapshot.Index < rec.Frames[i-1].Snapshot.Index
		if rec.Frames[i].At.Before(rec.Frames[i-1].At) {
			t.Errorf("frame %d at %v comes before frame %d at %v", i+1, rec.Frames[i].At, i, rec.Frames[i-1].At)
		}
	}
	last := rec.Frames[len(rec.Frames)-1].Snapshot
	if !back || last.Phase != runner.PhaseDone || len(rec.Healths) < 10 || len(seen) < 10 {
		t.Errorf("the run went back a chapter: %v; it ended in phase %s; %d health snapshots, %d snapshots received; want a run that went back, ended, and showed health",
			back, last.Phase, len(rec.Healths), len(seen))
	}
}

func dump(s runner.Snapshot) string {
	b, _ := json.MarshalIndent(s, "", "  ")
	return fmt.Sprintf("%s", b)
}
