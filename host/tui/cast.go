package tui

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/uniseg"

	"github.com/demohost/demohost/host/replay"
	"github.com/demohost/demohost/host/runner"
)

// CastOptions say how WriteCast draws a replay.
type CastOptions struct {
	Width, Height int     // the terminal's size (at least 80x24 to show more than a notice)
	Speed         float64 // one of replay.Speeds
	NoColor       bool
}

// WriteCast writes rec, played back from start to end at o.Speed, as an
// asciicast v2 recording (https://docs.asciinema.org/manual/asciicast/v2/):
// a header line, then one line per change of picture, each with the bytes
// a terminal of o.Width×o.Height needs to show it. The pictures are those
// the terminal UI draws for the replay; no terminal is needed.
func WriteCast(w io.Writer, rec *runner.Recording, o CastOptions) error {
	if err := replay.CheckSpeed(o.Speed); err != nil {
		return err
	}
	sim := tcell.NewSimulationScreen("UTF-8")
	if err := sim.Init(); err != nil {
		return err
	}
	defer sim.Fini()
	sim.SetSize(o.Width, o.Height)
	v := newView(theme{noColor: o.NoColor})
	v.keys = keysFor(replayMode)
	pb := &playback{rec: rec, v: v, shown: -1}

	out := bufio.NewWriter(w)
	start := rec.Frames[0].At
	first := rec.Frames[0].Snapshot
	header, err := json.Marshal(map[string]any{
		"version": 2, "width": o.Width, "height": o.Height, "timestamp": start.Unix(),
		"title": strings.TrimSpace("demohost replay: " + first.Subject + " " + first.SubjectVersion),
		"env":   map[string]string{"TERM": "xterm-256color"},
	})
	if err != nil {
		return err
	}
	out.Write(append(header, '\n'))
	var term ansiTerm
	for t, k := start, 0; !t.IsZero(); {
		for k+1 < len(rec.Frames) && !rec.Frames[k+1].At.After(t) {
			k++
		}
		snap := pb.show(k)
		next := pb.next(k, &snap, t)
		v.replay = &replayInfo{speed: o.Speed, ended: next.IsZero()}
		render(sim, &snap, v, t)
		sim.Show()
		cells, width, _ := sim.GetContents()
		if bytes := term.update(cells, width); bytes != "" {
			data, err := json.Marshal(bytes)
			if err != nil {
				return err
			}
			secs := t.Sub(start).Seconds() / o.Speed
			fmt.Fprintf(out, "[%s, \"o\", %s]\n", strconv.FormatFloat(secs, 'f', 6, 64), data)
		}
		t = next
	}
	return out.Flush()
}

// ansiTerm turns successive screens into what a terminal (xterm and its
// kin) must be sent to go from one to the next: the cells that changed,
// each reached by a cursor move and drawn in its style.
type ansiTerm struct {
	shown []tcell.SimCell // what the terminal shows; nil before the first
	style tcell.Style     // in force on the terminal
	x, y  int             // the cursor; x -1 when unknown
}

// update is what turns the terminal's screen into cells (w columns wide).
func (a *ansiTerm) update(cells []tcell.SimCell, w int) string {
	var b strings.Builder
	if len(a.shown) != len(cells) {
		// Hide the cursor, no autowrap, plain style, clear.
		b.WriteString("\x1b[?25l\x1b[?7l\x1b[0m\x1b[H\x1b[2J")
		a.shown, a.style, a.x, a.y = make([]tcell.SimCell, len(cells)), tcell.StyleDefault, 0, 0
	}
	for i, c := range cells {
		if len(c.Runes) == 0 || sameCell(a.shown[i], c) {
			continue // the right half of a wide grapheme, or unchanged
		}
		x, y := i%w, i/w
		if x != a.x || y != a.y {
			fmt.Fprintf(&b, "\x1b[%d;%dH", y+1, x+1)
		}
		if c.Style != a.style {
			b.WriteString(sgr(c.Style))
			a.style = c.Style
		}
		g := string(c.Runes)
		b.WriteString(g)
		gw := max(1, uniseg.StringWidth(g))
		a.x, a.y = x+gw, y
		if a.x >= w {
			a.x = -1 // the cursor stays at the margin: move it explicitly
		}
		a.shown[i] = tcell.SimCell{Runes: append([]rune(nil), c.Runes...), Style: c.Style}
		for k := i + 1; k < i+gw && k < len(cells); k++ {
			a.shown[k] = tcell.SimCell{} // covered: drawn again when it shows a cell of its own
		}
	}
	return b.String()
}

func sameCell(a, b tcell.SimCell) bool {
	return a.Style == b.Style && string(a.Runes) == string(b.Runes)
}

// sgr is the escape sequence that sets st from scratch.
func sgr(st tcell.Style) string {
	fg, bg, attrs := st.Decompose()
	codes := []string{"0"}
	for _, a := range []struct {
		mask tcell.AttrMask
		code string
	}{{tcell.AttrBold, "1"}, {tcell.AttrDim, "2"}, {tcell.AttrItalic, "3"}, {tcell.AttrBlink, "5"}, {tcell.AttrReverse, "7"}, {tcell.AttrStrikeThrough, "9"}} {
		if attrs&a.mask != 0 {
			codes = append(codes, a.code)
		}
	}
	if st.GetUnderlineStyle() != tcell.UnderlineStyleNone {
		codes = append(codes, "4")
	}
	codes = append(codes, colorCodes(fg, 30, 90, 38)...)
	codes = append(codes, colorCodes(bg, 40, 100, 48)...)
	return "\x1b[" + strings.Join(codes, ";") + "m"
}

// colorCodes sets c: one of the 16 basic colours (base+i, or bright+i-8),
// the 256-colour palette (ext;5;i) or an RGB colour (ext;2;r;g;b).
func colorCodes(c tcell.Color, base, bright, ext int) []string {
	switch {
	case !c.Valid():
		return nil // the terminal's default
	case c.IsRGB():
		r, g, b := c.RGB()
		return []string{strconv.Itoa(ext), "2", strconv.Itoa(int(r)), strconv.Itoa(int(g)), strconv.Itoa(int(b))}
	}
	i := int(c - tcell.ColorValid)
	switch {
	case i < 8:
		return []string{strconv.Itoa(base + i)}
	case i < 16:
		return []string{strconv.Itoa(bright + i - 8)}
	}
	return []string{strconv.Itoa(ext), "5", strconv.Itoa(i)}
}
