// Package markup parses the small markup of chapter narration into styled
// spans:
//
//	*bold*   _dim_   [red]coloured[/]   \* \_ \[ \] \\ (literal characters)
//
// Colours are red, green, yellow, blue, magenta and cyan; colour tags nest,
// and [/] (or [/red]) closes the innermost one. * and _ work as in Markdown:
// they open before a non-space and close after one, never inside a word, so
// snake_case names stay as they are.
//
// Parse is lenient: markup that does not pair up is shown as the plain text
// it is, and no input makes it panic. Check reports such problems, so a
// plugin author can test narration before a demo shows it.
package markup

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Color is a narration colour. The zero value is the terminal's default.
type Color uint8

// Colours a narration can use.
const (
	Default Color = iota
	Red
	Green
	Yellow
	Blue
	Magenta
	Cyan
)

var colorNames = []string{"", "red", "green", "yellow", "blue", "magenta", "cyan"}

// String is the colour's name as written in a tag ("" for Default).
func (c Color) String() string {
	if int(c) < len(colorNames) {
		return colorNames[c]
	}
	return fmt.Sprintf("Color(%d)", uint8(c))
}

func colorNamed(name string) (Color, bool) {
	for i, n := range colorNames {
		if i > 0 && strings.EqualFold(n, name) {
			return Color(i), true
		}
	}
	return Default, false
}

// Style is how a span is drawn.
type Style struct {
	Bold  bool
	Dim   bool
	Color Color
}

// Span is a run of text in one style.
type Span struct {
	Text  string
	Style Style
}

// Parse turns narration into spans: never empty ones, and no two adjacent
// spans with the same style. Markup that does not pair up stays as text.
func Parse(s string) []Span {
	toks := tokenize(s)
	match(toks)
	var (
		spans  []Span
		bold   int
		dim    int
		colors []Color
	)
	emit := func(text string) {
		if text == "" {
			return
		}
		st := Style{Bold: bold > 0, Dim: dim > 0}
		if len(colors) > 0 {
			st.Color = colors[len(colors)-1]
		}
		if n := len(spans); n > 0 && spans[n-1].Style == st {
			spans[n-1].Text += text
			return
		}
		spans = append(spans, Span{Text: text, Style: st})
	}
	for _, t := range toks {
		if !t.matched {
			emit(t.text)
			continue
		}
		d := 1
		if !t.opens {
			d = -1
		}
		switch t.kind {
		case bold1:
			bold += d
		case dim1:
			dim += d
		case colorOpen:
			colors = append(colors, t.color)
		case colorClose:
			colors = colors[:len(colors)-1]
		}
	}
	return spans
}

// Plain is the narration's text without markup, as Parse would show it.
func Plain(s string) string {
	var b strings.Builder
	for _, sp := range Parse(s) {
		b.WriteString(sp.Text)
	}
	return b.String()
}

// Escape makes text (a node name, a message) show literally inside
// narration: it backslash-escapes every markup character.
func Escape(text string) string {
	var b strings.Builder
	for _, r := range text {
		if strings.ContainsRune(`*_[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Check reports markup that Parse would show as plain text although it looks
// meant as markup: an unclosed * or _, an unknown or unclosed colour tag, a
// [/] that closes nothing. It returns nil for clean narration.
func Check(s string) error {
	toks := tokenize(s)
	match(toks)
	var errs []error
	for _, t := range toks {
		if t.matched {
			continue
		}
		switch {
		case (t.kind == bold1 || t.kind == dim1) && t.opens:
			errs = append(errs, fmt.Errorf("column %d: %s is never closed; close it or write \\%s for a literal one", t.col, t.text, t.text))
		case t.kind == colorOpen:
			errs = append(errs, fmt.Errorf("column %d: %s is never closed; end it with [/]", t.col, t.text))
		case t.kind == colorClose:
			errs = append(errs, fmt.Errorf("column %d: %s closes no open colour", t.col, t.text))
		case t.kind == unknownTag:
			errs = append(errs, fmt.Errorf("column %d: %s is not a colour (use %s), or write \\%s for a literal bracket",
				t.col, t.text, strings.Join(colorNames[1:], ", "), t.text))
		}
	}
	return errors.Join(errs...)
}

type kind uint8

const (
	text       kind = iota
	bold1           // a * that may open or close bold
	dim1            // a _ that may open or close dim
	colorOpen       // [red]
	colorClose      // [/] or [/red]
	unknownTag      // [word] that is not a colour: text, reported by Check
)

type token struct {
	kind    kind
	text    string // as written; shown when the token is not matched
	col     int    // 1-based rune column, for Check
	color   Color  // colorOpen, and colorClose when named
	opens   bool   // delimiter may open (bold1, dim1); colorOpen
	closes  bool   // delimiter may close (bold1, dim1)
	matched bool   // paired with a partner: markup, not text
}

func tokenize(s string) []token {
	var toks []token
	var plain strings.Builder
	col := 1
	flush := func() {
		if plain.Len() > 0 {
			toks = append(toks, token{kind: text, text: plain.String()})
			plain.Reset()
		}
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\' && i+1 < len(s) && strings.IndexByte(`*_[]\`, s[i+1]) >= 0:
			plain.WriteByte(s[i+1])
			i += 2
			col += 2
			continue
		case r == '*' || r == '_':
			prev, _ := utf8.DecodeLastRuneInString(s[:i])
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if i == 0 {
				prev = ' '
			}
			if i+1 == len(s) {
				next = ' '
			}
			k := bold1
			if r == '_' {
				k = dim1
			}
			flush()
			toks = append(toks, token{
				kind:   k,
				text:   string(r),
				col:    col,
				opens:  !unicode.IsSpace(next) && !isWord(prev),
				closes: !unicode.IsSpace(prev) && !isWord(next),
			})
		case r == '[':
			if t, ok := tag(s[i:]); ok {
				flush()
				t.col = col
				toks = append(toks, t)
				i += len(t.text)
				col += utf8.RuneCountInString(t.text)
				continue
			}
			plain.WriteRune(r)
		default:
			if r == utf8.RuneError && size == 1 {
				plain.WriteString(s[i : i+1]) // keep invalid bytes as they are
			} else {
				plain.WriteRune(r)
			}
		}
		i += size
		col++
	}
	flush()
	return toks
}

// tag reads a [name], [/] or [/name] at the start of s.
func tag(s string) (token, bool) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return token{}, false
	}
	raw, name := s[:end+1], s[1:end]
	if name == "/" {
		return token{kind: colorClose, text: raw}, true
	}
	closing := strings.HasPrefix(name, "/")
	name = strings.TrimPrefix(name, "/")
	if name == "" || !isLetters(name) {
		return token{}, false
	}
	c, ok := colorNamed(name)
	switch {
	case !ok:
		return token{kind: unknownTag, text: raw}, true
	case closing:
		return token{kind: colorClose, text: raw, color: c}, true
	default:
		return token{kind: colorOpen, text: raw, color: c, opens: true}, true
	}
}

// match pairs openers with closers: * with *, _ with _ (never around
// nothing), and colour tags as a stack.
func match(toks []token) {
	var stars, unders, colors []int
	for i := range toks {
		t := &toks[i]
		switch t.kind {
		case bold1, dim1:
			stack := &stars
			if t.kind == dim1 {
				stack = &unders
			}
			if n := len(*stack); t.closes && n > 0 && (*stack)[n-1] != i-1 {
				toks[(*stack)[n-1]].matched = true
				t.matched = true
				t.opens = false
				*stack = (*stack)[:n-1]
			} else if t.opens {
				*stack = append(*stack, i)
			}
		case colorOpen:
			colors = append(colors, i)
		case colorClose:
			if n := len(colors); n > 0 && (t.color == Default || toks[colors[n-1]].color == t.color) {
				toks[colors[n-1]].matched = true
				t.matched = true
				colors = colors[:n-1]
			}
		}
	}
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isLetters(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}
