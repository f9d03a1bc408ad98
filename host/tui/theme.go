package tui

import (
	"github.com/gdamore/tcell/v2"

	"github.com/demohost/demohost/host/subject"
)

// theme picks styles. With noColor (NO_COLOR set) it uses no colour at
// all, only bold, dim and reverse; glyphs still tell states apart.
type theme struct{ noColor bool }

func (th theme) fg(st tcell.Style, c tcell.Color) tcell.Style {
	if th.noColor {
		return st
	}
	return st.Foreground(c)
}

func (th theme) base() tcell.Style { return tcell.StyleDefault }

func (th theme) border() tcell.Style { return th.fg(tcell.StyleDefault, tcell.ColorGray) }

func (th theme) dim() tcell.Style { return th.fg(tcell.StyleDefault.Dim(true), tcell.ColorGray) }

func (th theme) good() tcell.Style { return th.fg(tcell.StyleDefault, tcell.ColorGreen) }

func (th theme) warn() tcell.Style { return th.fg(tcell.StyleDefault, tcell.ColorYellow) }

func (th theme) bad() tcell.Style { return th.fg(tcell.StyleDefault.Bold(true), tcell.ColorRed) }

// bar is the header and footer line.
func (th theme) bar() tcell.Style {
	if th.noColor {
		return tcell.StyleDefault.Reverse(true)
	}
	return tcell.StyleDefault.Background(tcell.ColorNavy).Foreground(tcell.ColorWhite)
}

// alarm is a badge or banner that must be seen: chaos, errors.
func (th theme) alarm() tcell.Style {
	if th.noColor {
		return tcell.StyleDefault.Reverse(true).Bold(true)
	}
	return tcell.StyleDefault.Background(tcell.ColorMaroon).Foreground(tcell.ColorWhite).Bold(true)
}

// notice is a message the user should read now, e.g. a refused key.
func (th theme) notice() tcell.Style {
	if th.noColor {
		return tcell.StyleDefault.Reverse(true).Bold(true)
	}
	return tcell.StyleDefault.Background(tcell.ColorOlive).Foreground(tcell.ColorBlack).Bold(true)
}

// nodeGlyph is the glyph and style of a node state.
func (th theme) nodeGlyph(s subject.NodeState) (rune, tcell.Style) {
	switch s {
	case subject.Up:
		return '●', th.good()
	case subject.Down:
		return '✗', th.bad()
	case subject.Paused:
		return '‖', th.fg(tcell.StyleDefault.Bold(true), tcell.ColorYellow)
	case subject.Degraded:
		return '◐', th.fg(tcell.StyleDefault.Bold(true), tcell.ColorFuchsia)
	default:
		return '?', th.dim()
	}
}

// asciiFallbacks stand in for the glyphs on a terminal without UTF-8
// (LANG=C), so node states and markers still differ. Each is one column.
var asciiFallbacks = map[rune]string{
	'●': "+", '✗': "x", '‖': "=", '◐': "~", // node states (? is ASCII)
	'○': "o", '✓': "v", '⚡': "!", '⚠': "!", '⏳': "*", '▶': ">", '■': "#", '×': "x",
	'…': ".", '·': ".", '→': ">", '←': "<", '░': ".",
	'▁': "_", '▂': ".", '▃': ":", '▄': "-", '▅': "=", '▆': "+", '▇': "*",
}

// registerFallbacks tells the screen about asciiFallbacks.
func registerFallbacks(s tcell.Screen) {
	for r, subst := range asciiFallbacks {
		s.RegisterRuneFallback(r, subst)
	}
}
