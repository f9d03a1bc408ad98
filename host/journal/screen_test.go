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
	"github.com/demohost/demohost/host/journal/journaltest"
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

// The journal is written indented three levels deep, as json.Indent would
// (each chapter, fault, event, frame and health record starts its own
// line), deeper values compactly on one line; it reads back as written.
func TestEncodeIndentsThreeLevels(t *testing.T) {
	j := journaltest.Sample(3*time.Minute, 3)
	j.Events = append(j.Events, journal.Event{Kind: "status", Message: `a "quoted" {brace} [bracket], colon: \ back`})
	idx := 0
	j.Screen = &journal.Screen{
		Version: journal.ScreenVersion, EventsShown: 200,
		Chapters: []journal.ScreenChapter{{Title: "one"}},
		Health: []journal.HealthRecord{{TakenAt: 5, Values: map[int]journal.Number{0: journal.Number(math.NaN()), 1: 2.5}},
			{TakenAt: 6, Values: map[int]journal.Number{0: journal.Number(math.Inf(-1))}}},
		Frames: []journal.Frame{{At: 1}, {At: 7, Index: &idx, Health: 2}},
	}
	var b bytes.Buffer
	if err := j.Encode(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"{\n  \"subject\": \"ratelimiter\",\n",
		"\n    {\n      \"at\": ",                                          // an event, indented
		"\n      \"expectations\": [{\"description\":",                     // a chapter's expectations: one line
		"\n      \"points\": [{\"at\":",                                    // a series' points: one line
		"\n      {\"taken_at\":5,\"values\":{\"0\":\"NaN\",\"1\":2.5}},\n", // a health record: one line
		"\n      {\"at\":7,\"index\":0,\"health\":2}\n",                    // a frame: one line
		`"message": "a \"quoted\" {brace} [bracket], colon: \\ back"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("journal lacks %q:\n%s", want, out[:min(len(out), 3000)])
		}
	}
	var back journal.Journal
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if s := back.Screen; s == nil || len(s.Frames) != 2 || *s.Frames[1].Index != 0 || !math.IsNaN(float64(s.Health[0].Values[0])) || !math.IsInf(float64(s.Health[1].Values[0]), -1) {
		t.Errorf("read back %+v", back.Screen)
	}
	back.Screen, j.Screen = nil, nil
	if a, c := mustMarshal(t, &back), mustMarshal(t, j); a != c {
		t.Error("the journal did not read back as written")
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
