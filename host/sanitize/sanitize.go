// Package sanitize makes text that came from a plugin (or from a journal
// file, which anyone can edit) safe to print: on a terminal, in a log line,
// in JUnit XML or in an SVG. Escape sequences are removed; other control
// characters and bidirectional overrides are shown escaped (\x07, \u202e),
// so a reader sees that something was there; bytes that are not UTF-8 become
// U+FFFD; and over-long text is cut with an ellipsis. Every place the host
// prints plugin text goes through it (docs/ARCHITECTURE.md, "Chaos safety").
package sanitize

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits used by the host's printers (runes).
const (
	// MaxLine bounds one line of progress, a summary line or a value.
	MaxLine = 1000
	// MaxError bounds an error line (its start and its end are kept).
	MaxError = 600
	// MaxValue bounds a value quoted inside a message (an option value).
	MaxValue = 80
)

// Line returns s as one line: escape sequences removed, line breaks and
// tabs turned into single spaces, other control characters escaped, cut to
// max runes with "…" at the end (max <= 0: no cut).
func Line(s string, max int) string { return cutEnd(clean(s, false), max) }

// Text is Line for text that may hold several lines (narration, a JUnit
// failure's body): line breaks are kept, as "\n".
func Text(s string, max int) string { return cutEnd(clean(s, true), max) }

// Error is Line for an error message shown as the one line a user reads:
// when it is too long, its middle is cut, so the problem (at the start) and
// what to do (at the end) both stay.
func Error(s string, max int) string { return cutMiddle(clean(s, false), max) }

// Errorf formats like fmt.Sprintf, then applies Error with MaxError.
func Errorf(format string, args ...any) string {
	return Error(fmt.Sprintf(format, args...), MaxError)
}

// Clean reports whether s prints as it is: one line of printable UTF-8,
// nothing for Line to change (cutting aside).
func Clean(s string) bool {
	for i := 0; i < len(s); {
		b := s[i]
		if b < 0x80 {
			if b < ' ' || b == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || isC1(r) || isBidi(r) {
			return false
		}
		i += n
	}
	return true
}

// Skip is for renderers that walk text themselves (the terminal UI): the
// length in bytes of the escape sequence or control character s starts
// with, which must not be drawn; 0 when s starts with printable text.
func Skip(s string) int {
	if s == "" {
		return 0
	}
	b := s[0]
	if b < 0x80 {
		switch {
		case b == 0x1b:
			return escapeLen(s)
		case b < ' ' || b == 0x7f:
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && n == 1:
		return 1
	case isC1(r):
		return c1Len(s, r, n)
	case isBidi(r):
		return n
	}
	return 0
}

// clean does the work of Line (multiline false) and Text (true).
func clean(s string, multiline bool) string {
	if Clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false // a space is pending (collapsed line breaks and tabs)
	flush := func() {
		if space {
			b.WriteByte(' ')
			space = false
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n' || c == '\r':
			n := 1
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			i += n
			if multiline {
				space = false
				b.WriteByte('\n')
				continue
			}
			// One line: the break and the blanks around it become one space.
			trimTrailingSpaces(&b)
			for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
				i++
			}
			space = b.Len() > 0
			continue
		case c == '\t':
			i++
			if !space {
				flush()
				b.WriteByte(' ')
			}
			continue
		case c == 0x1b:
			i += escapeLen(s[i:])
			continue
		case c < ' ' || c == 0x7f:
			flush()
			fmt.Fprintf(&b, `\x%02x`, c)
			i++
			continue
		case c < 0x80:
			flush()
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			flush()
			b.WriteRune(utf8.RuneError)
			i++
		case isC1(r):
			if l := c1Len(s[i:], r, n); l > n { // an 8-bit CSI, OSC, ...: removed
				i += l
				continue
			}
			flush()
			fmt.Fprintf(&b, `\u%04x`, r)
			i += n
		case isBidi(r):
			flush()
			fmt.Fprintf(&b, `\u%04x`, r)
			i += n
		default:
			flush()
			b.WriteString(s[i : i+n])
			i += n
		}
	}
	return b.String()
}

func trimTrailingSpaces(b *strings.Builder) {
	s := b.String()
	t := strings.TrimRight(s, " ")
	if len(t) != len(s) {
		b.Reset()
		b.WriteString(t)
	}
}

// escapeLen is the length of the escape sequence at the start of s (s[0]
// is ESC), as terminals parse them (ECMA-48): CSI (ESC [ ... final byte),
// the control strings OSC, DCS, SOS, PM and APC (up to BEL or ST, or the
// end of s), and two-or-more-byte escapes (ESC, intermediates, final).
func escapeLen(s string) int {
	if len(s) < 2 {
		return len(s)
	}
	switch s[1] {
	case '[':
		return 2 + csiLen(s[2:])
	case ']', 'P', 'X', '^', '_':
		return 2 + stringLen(s[2:])
	}
	i := 1
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f { // intermediates
		i++
	}
	if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e { // final
		i++
	}
	return i
}

// csiLen is the length of a CSI sequence's body: parameters, intermediates
// and the final byte.
func csiLen(s string) int {
	i := 0
	for i < len(s) && s[i] >= 0x30 && s[i] <= 0x3f {
		i++
	}
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// stringLen is the length of a control string's body and its terminator:
// BEL, ST (ESC \ or U+009C), or the end of s.
func stringLen(s string) int {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\':
			return i + 2
		case s[i] == 0xc2 && i+1 < len(s) && s[i+1] == 0x9c: // U+009C, ST
			return i + 2
		}
	}
	return len(s)
}

// c1Len is the length of what the C1 control r (n bytes) at the start of s
// introduces: an 8-bit CSI or control string is removed whole; other C1
// controls are one character.
func c1Len(s string, r rune, n int) int {
	switch r {
	case 0x9b: // CSI
		return n + csiLen(s[n:])
	case 0x90, 0x98, 0x9d, 0x9e, 0x9f: // DCS, SOS, OSC, PM, APC
		return n + stringLen(s[n:])
	}
	return n
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

// isBidi reports the formatting characters that reorder what follows
// (Trojan Source): embeddings, overrides, isolates and marks; and the two
// noncharacters XML refuses (U+FFFE, U+FFFF). They are shown escaped.
func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c ||
		r == 0xfffe || r == 0xffff
}

// cutEnd cuts s to max runes, the last being "…".
func cutEnd(s string, max int) string {
	if max <= 0 || len(s) <= max || utf8.RuneCountInString(s) <= max {
		return s
	}
	i, n := 0, 0
	for i < len(s) && n < max-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return s[:i] + "…"
}

// cutMiddle cuts s to max runes by replacing its middle with "…": two
// thirds of what is kept from the start, a third from the end.
func cutMiddle(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	total := utf8.RuneCountInString(s)
	if total <= max {
		return s
	}
	if max < 3 {
		return cutEnd(s, max)
	}
	head := (max - 1) * 2 / 3
	tail := max - 1 - head
	i, n := 0, 0
	for n < head {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	j, m := len(s), 0
	for m < tail {
		_, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
		m++
	}
	return s[:i] + "…" + s[j:]
}

// Fprintf formats like fmt.Fprintf and writes the result as one sanitised
// line (Errorf) and a line break: the way the host prints its one-line
// messages, which quote plugin text and errors.
func Fprintf(w io.Writer, format string, args ...any) {
	fmt.Fprintln(w, Errorf(format, args...))
}
