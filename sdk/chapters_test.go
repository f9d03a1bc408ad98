package sdk

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
	"google.golang.org/protobuf/proto"
)

func validChapters() []*Chapter {
	return []*Chapter{
		{Title: "start", Expectations: []*Expectation{ExpectAllNodes(Up, time.Second)}},
		{Title: "kill", Chaos: &ChaosConfig{Type: ContainerKill}, ChaosCountdown: Dur(time.Second),
			Expectations: []*Expectation{ExpectViolation("node_down", 5*time.Second)}},
		{Title: "burst", Chaos: &ChaosConfig{Type: BurstTraffic, BurstMultiplier: 3}},
		{Title: "act", HasAction: true, AutoAdvance: true},
	}
}

func TestValidateChapters(t *testing.T) {
	types := []ChaosType{ContainerKill, BurstTraffic}
	if err := ValidateChapters(validChapters(), types); err != nil {
		t.Fatalf("valid list refused: %v", err)
	}
	tests := []struct {
		name    string
		mutate  func([]*Chapter) []*Chapter
		wantErr string
	}{
		{"empty list", func([]*Chapter) []*Chapter { return nil }, "no chapters"},
		{"nil chapter", func(c []*Chapter) []*Chapter { c[1] = nil; return c }, "chapter 2 is empty"},
		{"no title", func(c []*Chapter) []*Chapter { c[0].Title = ""; return c }, "chapter 1 has no title"},
		{"auto advance without action", func(c []*Chapter) []*Chapter { c[0].AutoAdvance = true; return c }, "auto_advance needs an on-enter action"},
		{"chaos without type", func(c []*Chapter) []*Chapter { c[1].Chaos.Type = 0; return c }, "chaos has no type"},
		{"undeclared chaos type", func(c []*Chapter) []*Chapter { c[1].Chaos.Type = RedisPause; return c }, "REDIS_PAUSE is not among"},
		{"burst without multiplier", func(c []*Chapter) []*Chapter { c[2].Chaos.BurstMultiplier = 0; return c }, "burst_multiplier"},
		{"negative countdown", func(c []*Chapter) []*Chapter { c[1].ChaosCountdown = Dur(-time.Second); return c }, "chaos_countdown"},
		{"expectation without deadline", func(c []*Chapter) []*Chapter { c[0].Expectations[0].Within = nil; return c }, "positive `within`"},
		{"violation without invariant", func(c []*Chapter) []*Chapter { c[1].Expectations[0].Invariant = ""; return c }, "needs an invariant"},
		{"node state without target", func(c []*Chapter) []*Chapter {
			c[0].Expectations = append(c[0].Expectations, ExpectNode("", Up, time.Second))
			return c
		}, "needs a target"},
		{"unknown kind", func(c []*Chapter) []*Chapter { c[0].Expectations[0].Kind = 99; return c }, "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateChapters(tt.mutate(validChapters()), types)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzValidateChapters feeds arbitrary wire bytes, as a misbehaving plugin
// could send, through validation: it must never panic, and a list it
// accepts must have titles and typed chaos.
func FuzzValidateChapters(f *testing.F) {
	seed, _ := proto.Marshal(&v1.ChapterList{Chapters: validChapters()})
	f.Add(seed)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l v1.ChapterList
		if proto.Unmarshal(b, &l) != nil {
			return
		}
		if ValidateChapters(l.Chapters, []ChaosType{ContainerKill, BurstTraffic}) != nil {
			return
		}
		for _, c := range l.Chapters {
			if c.Title == "" || (c.Chaos != nil && c.Chaos.Type == 0) {
				t.Fatalf("accepted an invalid chapter: %v", c)
			}
		}
	})
}
