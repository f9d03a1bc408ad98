package tui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/uniseg"

	"github.com/demohost/demohost/host/sanitize"
	"github.com/demohost/demohost/sdk/markup"
)

// rect is a region of the screen.
type rect struct{ x, y, w, h int }

// cell is one styled rune, the unit that text wrapping works on.
type cell struct {
	r     rune
	style tcell.Style
}

// canvas draws clipped text on a frame.
type canvas struct {
	s  *frame
	th theme
}

func runeWidth(r rune) int {
	if r < 0x300 { // ASCII and Latin: the common case, no table lookup
		if r < ' ' {
			return 0
		}
		return 1
	}
	return uniseg.StringWidth(string(r))
}

// text draws str at (x, y), never past x+maxW, and returns the columns used.
// It hands the screen substrings of str: no allocation per cell. Escape
// sequences and control characters (plugin text may hold any) are skipped
// whole, never drawn (see package sanitize).
func (c canvas) text(x, y, maxW int, str string, st tcell.Style) int {
	used := 0
	for str != "" {
		var g string
		var w int
		if b := str[0]; b < ' ' || b >= 0x7f {
			if n := sanitize.Skip(str); n > 0 {
				str = str[n:]
				continue
			}
		}
		if str[0] < 0x80 && (len(str) == 1 || str[1] < 0x80) { // ASCII fast path
			g, str, w = str[:1], str[1:], 1
		} else {
			g, str, w, _ = uniseg.FirstGraphemeClusterInString(str, -1)
		}
		if w == 0 {
			continue
		}
		if used+w > maxW {
			break
		}
		c.s.Put(x+used, y, g, w, st)
		used += w
	}
	return used
}

// textEllipsis draws str, ending it with … when it does not fit.
func (c canvas) textEllipsis(x, y, maxW int, str string, st tcell.Style) int {
	if maxW <= 0 {
		return 0
	}
	if uniseg.StringWidth(str) <= maxW {
		return c.text(x, y, maxW, str, st)
	}
	n := c.text(x, y, maxW-1, str, st)
	c.s.Put(x+n, y, "…", 1, st)
	return n + 1
}

// fill paints a region with spaces in st.
func (c canvas) fill(r rect, st tcell.Style) {
	for y := r.y; y < r.y+r.h; y++ {
		for x := r.x; x < r.x+r.w; x++ {
			c.s.Put(x, y, " ", 1, st)
		}
	}
}

// box draws a border with a title and returns the inside.
func (c canvas) box(r rect, title string, st tcell.Style) rect {
	if r.w < 2 || r.h < 2 {
		return rect{}
	}
	right, bottom := r.x+r.w-1, r.y+r.h-1
	for x := r.x + 1; x < right; x++ {
		c.s.Put(x, r.y, "─", 1, st)
		c.s.Put(x, bottom, "─", 1, st)
	}
	for y := r.y + 1; y < bottom; y++ {
		c.s.Put(r.x, y, "│", 1, st)
		c.s.Put(right, y, "│", 1, st)
	}
	c.s.Put(r.x, r.y, "┌", 1, st)
	c.s.Put(right, r.y, "┐", 1, st)
	c.s.Put(r.x, bottom, "└", 1, st)
	c.s.Put(right, bottom, "┘", 1, st)
	if title != "" && r.w > 4 {
		c.textEllipsis(r.x+2, r.y, r.w-4, " "+title+" ", st.Bold(true))
	}
	return rect{r.x + 1, r.y + 1, r.w - 2, r.h - 2}
}

// cells turns narration markup into styled runes on top of base.
func (th theme) cells(narration string, base tcell.Style) []cell {
	var out []cell
	for _, sp := range markup.Parse(narration) {
		st := base.Bold(sp.Style.Bold).Dim(sp.Style.Dim)
		if sp.Style.Color != markup.Default {
			st = th.fg(st, markupColors[sp.Style.Color])
		}
		for _, r := range sp.Text {
			out = append(out, cell{r, st})
		}
	}
	return out
}

var markupColors = map[markup.Color]tcell.Color{
	markup.Red: tcell.ColorRed, markup.Green: tcell.ColorGreen, markup.Yellow: tcell.ColorYellow,
	markup.Blue: tcell.ColorBlue, markup.Magenta: tcell.ColorFuchsia, markup.Cyan: tcell.ColorAqua,
}

// wrap breaks styled text into lines of at most width columns, at spaces
// where it can and hard where a word is longer than a line. Newlines break.
func wrap(text []cell, width int) [][]cell {
	if width <= 0 {
		return nil
	}
	var lines [][]cell
	for len(text) > 0 {
		w, cut, space := 0, len(text), -1
		for i, c := range text {
			if c.r == '\n' {
				cut = i
				break
			}
			if c.r == ' ' {
				space = i
			}
			w += runeWidth(c.r)
			if w > width {
				cut = i
				if space > 0 {
					cut = space
				}
				break
			}
		}
		if cut == 0 { // a wide rune in a one-column line: skip it
			cut = 1
		}
		lines = append(lines, text[:cut])
		text = text[cut:]
		if len(text) > 0 && (text[0].r == ' ' || text[0].r == '\n') {
			text = text[1:]
		}
	}
	return lines
}

// seg is a run of text in one style.
type seg struct {
	text  string
	style tcell.Style
}

// styledLine is one line of a panel, drawn left to right.
type styledLine []seg

// segments groups styled runes into runs of one style.
func segments(cells []cell) styledLine {
	var out styledLine
	var b strings.Builder
	for i, cl := range cells {
		b.WriteRune(cl.r)
		if i == len(cells)-1 || cells[i+1].style != cl.style {
			out = append(out, seg{b.String(), cl.style})
			b.Reset()
		}
	}
	return out
}

// line draws a styled line at (x, y) clipped to maxW.
// A line too long for maxW ends in "…", so a cut value (an address, a
// port) never reads as a whole one.
func (c canvas) line(x, y, maxW int, l styledLine) {
	var all strings.Builder
	for _, sg := range l {
		all.WriteString(sg.text)
	}
	limit, cut := maxW, maxW > 0 && uniseg.StringWidth(strings.TrimRight(all.String(), " ")) > maxW
	if cut {
		limit = maxW - 1
	}
	used := 0
	var last tcell.Style
	for _, sg := range l {
		if used >= limit {
			break
		}
		used += c.text(x+used, y, limit-used, sg.text, sg.style)
		last = sg.style
	}
	if cut {
		c.text(x+limit, y, 1, "…", last)
	}
}

// plainCells is text in one style, for wrap.
func plainCells(s string, st tcell.Style) []cell {
	out := make([]cell, 0, len(s))
	for _, r := range s {
		out = append(out, cell{r, st})
	}
	return out
}

// padName is pad for names (nodes, metrics, counters): a name too long is
// cut in the middle, keeping its end, where names of one cluster differ
// ("tikv-fix…store2-run7", not three identical "tikv-fixture-stor…").
func padName(s string, n int) string {
	if uniseg.StringWidth(s) <= n || n < 5 {
		return pad(s, n)
	}
	rs := []rune(s)
	headW := (n - 1) * 2 / 5 // the end gets more: it tells names apart more often
	var head strings.Builder
	used := 0
	for _, r := range rs {
		if used+runeWidth(r) > headW {
			break
		}
		head.WriteRune(r)
		used += runeWidth(r)
	}
	tail, tw := len(rs), 0
	for tail > 0 && used+1+tw+runeWidth(rs[tail-1]) <= n {
		tail--
		tw += runeWidth(rs[tail])
	}
	return head.String() + "…" + string(rs[tail:]) + strings.Repeat(" ", n-used-1-tw)
}

// pad right-pads s with spaces to n columns (or cuts it with …).
func pad(s string, n int) string {
	w := uniseg.StringWidth(s)
	switch {
	case w == n:
		return s
	case w < n:
		return s + strings.Repeat(" ", n-w)
	case n <= 1:
		return strings.Repeat("…", n)
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		rw := runeWidth(r)
		if used+rw > n-1 {
			break
		}
		b.WriteRune(r)
		used += rw
	}
	return b.String() + strings.Repeat(" ", n-1-used) + "…"
}
