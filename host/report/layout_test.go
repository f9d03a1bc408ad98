package report

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/journal/journaltest"
)

// On a dense 30-minute run, chapter titles and fault labels are placed
// so that none overlaps another on its row or runs off the page.
func TestLabelsNeitherOverlapNorLeaveThePage(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTimeline(&b, journaltest.Sample(30*time.Minute, 3)); err != nil {
		t.Fatal(err)
	}
	type label struct {
		text     string
		from, to float64
	}
	byRow := map[string][]label{}
	dec := xml.NewDecoder(&b)
	count := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "text" {
			continue
		}
		var x, y, size, class string
		size = "11"
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "x":
				x = a.Value
			case "y":
				y = a.Value
			case "font-size":
				size = a.Value
			case "class":
				class = a.Value
			}
		}
		if class != "chapter-title" && class != "chaos-label" {
			continue
		}
		var text string
		if err := dec.DecodeElement(&text, &se); err != nil {
			t.Fatal(err)
		}
		fx, _ := strconv.ParseFloat(x, 64)
		fs, _ := strconv.ParseFloat(size, 64)
		l := label{text, fx, fx + textWidth(text, fs)}
		if l.to > width {
			t.Errorf("label %q ends at x=%.0f, past the page's %v", text, l.to, width)
		}
		for _, o := range byRow[class+y] {
			if l.from < o.to && o.from < l.to {
				t.Errorf("label %q overlaps %q", text, o.text)
			}
		}
		byRow[class+y] = append(byRow[class+y], l)
		count++
	}
	if count < 50 {
		t.Errorf("only %d labels on a 30-minute run of about 100 chapters and 50 faults", count)
	}
}

func TestTicksAdaptToTheRunsLength(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		run, step time.Duration
	}{
		{2 * time.Minute, 10 * time.Second},
		{30 * time.Minute, 2 * time.Minute},
		{3 * time.Hour, 15 * time.Minute},
	} {
		s := timeScale{start: start, end: start.Add(tc.run), x0: 170, width: 1080}
		ticks := s.ticks(70)
		if len(ticks) < 2 || ticks[1] != tc.step {
			t.Errorf("a %v run gets ticks %v, want every %v", tc.run, ticks, tc.step)
		}
		if len(ticks) > 1080/70+1 {
			t.Errorf("a %v run gets %d ticks: labels 70px apart allow %d", tc.run, len(ticks), 1080/70+1)
		}
	}
}

// A 30-minute series sampled every second is drawn with at most a few
// points per pixel column, and a one-sample spike still reaches the top.
func TestMetricChartsDownsampleButKeepSpikes(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var pts []journal.Point
	for s := 0; s < 1800; s++ {
		v := 10.0
		if s == 1234 {
			v = 500 // one sample
		}
		pts = append(pts, journal.Point{At: start.Add(time.Duration(s) * time.Second), Value: v})
	}
	scale := timeScale{start: start, end: start.Add(30 * time.Minute), x0: 170, width: 1080}
	path := metricPath(pts, scale, 0, 0, 500)
	if cmds := strings.Count(path, "H") + strings.Count(path, "V") + strings.Count(path, "M"); cmds > 3*1080 {
		t.Errorf("path of 1800 samples has %d commands, want at most 3 per pixel column", cmds)
	}
	top := "V" + num(metricHeight-(500.0/500)*(metricHeight-4)-2)
	if !strings.Contains(path, top) {
		t.Errorf("the spike to 500 was lost in downsampling (no %q in the path)", top)
	}
}
