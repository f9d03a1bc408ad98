package tui

import "github.com/gdamore/tcell/v2"

// frame is the view's own copy of the screen. A render draws the whole
// frame, then flush hands the screen only the cells that differ from what
// it was last given: tcell then writes just those to the terminal. (Clearing
// the screen and drawing everything would mark every cell changed and
// rewrite the whole terminal on each health sample.)
type frame struct {
	screen tcell.Screen // the screen shown holds the cells of
	w, h   int
	cells  []frameCell // being drawn
	shown  []frameCell // last given to screen
}

// frameCell is a grapheme and its style; "" continues a wide grapheme.
type frameCell struct {
	str   string
	style tcell.Style
}

var blank = frameCell{" ", tcell.StyleDefault}

// begin starts a frame for s, clearing it; a new screen or size forgets
// what was shown.
func (f *frame) begin(s tcell.Screen) {
	w, h := s.Size()
	if s != f.screen || w != f.w || h != f.h {
		f.screen, f.w, f.h = s, w, h
		f.cells = make([]frameCell, w*h)
		f.shown = make([]frameCell, w*h) // zero cells: nothing shown yet
	}
	for i := range f.cells {
		f.cells[i] = blank
	}
}

// Put sets the cell at (x, y) to grapheme g of width columns.
func (f *frame) Put(x, y int, g string, width int, st tcell.Style) {
	if x < 0 || y < 0 || x >= f.w || y >= f.h {
		return
	}
	f.cells[y*f.w+x] = frameCell{g, st}
	for i := 1; i < width && x+i < f.w; i++ {
		f.cells[y*f.w+x+i] = frameCell{"", st}
	}
}

// flush gives the screen the cells that changed since the last flush.
func (f *frame) flush() {
	for i, c := range f.cells {
		if c == f.shown[i] {
			continue
		}
		f.shown[i] = c
		if c.str != "" {
			f.screen.Put(i%f.w, i/f.w, c.str, c.style)
		}
	}
}

// forget makes the next flush hand over every cell (after a Sync or
// anything else that may have changed the screen behind the frame).
func (f *frame) forget() { f.screen = nil }
