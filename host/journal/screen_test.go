package journal_test

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
)

// Journals written before the screen record still load (for demohost
// report), without one.
func TestJournalsWithoutScreenStillRead(t *testing.T) {
	paths, _ := filepath.Glob("../report/testdata/*.json")
	if len(paths) == 0 {
		t.Fatal("no journal in host/report/testdata")
	}
	for _, p := range paths {
		j, err := journal.Read(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if j.Screen != nil || len(j.Chapters) == 0 || j.Subject == "" {
			t.Errorf("%s: screen %v, %d chapters, subject %q", p, j.Screen != nil, len(j.Chapters), j.Subject)
		}
	}
}

// The screen record is written one record a line, compactly, and reads
// back as written; the rest of the journal stays indented as before.
func TestScreenRecordIsWrittenOneRecordALine(t *testing.T) {
	start := time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC)
	idx := 0
	j := &journal.Journal{Subject: "example", StartedAt: start, Screen: &journal.Screen{
		Version: journal.ScreenVersion, EventsShown: 200,
		Chapters: []journal.ScreenChapter{{Title: "one"}},
		Health: []journal.HealthRecord{{TakenAt: 5, Values: map[int]journal.Number{0: journal.Number(math.NaN()), 1: 2.5}},
			{TakenAt: 6, Values: map[int]journal.Number{0: journal.Number(math.Inf(-1))}}},
		Frames: []journal.Frame{{At: 1}, {At: 7, Index: &idx, Health: 2}},
	}}
	var b bytes.Buffer
	if err := j.Encode(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"\n  \"subject\": \"example\",\n", `{"taken_at":5,"values":{"0":"NaN","1":2.5}}`, `{"at":7,"index":0,"health":2}`} {
		if !strings.Contains(out, want) {
			t.Errorf("journal lacks %q:\n%s", want, out)
		}
	}
	var back journal.Journal
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if s := back.Screen; s == nil || len(s.Frames) != 2 || *s.Frames[1].Index != 0 || !math.IsNaN(float64(s.Health[0].Values[0])) || !math.IsInf(float64(s.Health[1].Values[0]), -1) {
		t.Errorf("read back %+v", back.Screen)
	}
}
