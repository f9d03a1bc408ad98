package report

import (
	"bytes"
	"encoding/xml"
	"math"
	"strconv"
	"strings"

	"github.com/demohost/demohost/host/sanitize"
)

// svgDoc builds SVG markup. Every number goes through num, every string
// through esc, so the same input always gives the same bytes.
type svgDoc struct{ b bytes.Buffer }

// el writes a self-closing element; attrs are name, value pairs.
func (d *svgDoc) el(tag string, attrs ...string) {
	d.start(tag, attrs...)
	d.b.WriteString("/>\n")
}

// open writes a start tag.
func (d *svgDoc) open(tag string, attrs ...string) {
	d.start(tag, attrs...)
	d.b.WriteString(">\n")
}

func (d *svgDoc) close(tag string) { d.b.WriteString("</" + tag + ">\n") }

// text writes a <text> element holding s.
func (d *svgDoc) text(s string, attrs ...string) {
	d.start("text", attrs...)
	d.b.WriteString(">" + esc(s) + "</text>\n")
}

// titled writes an element with a <title> child: browsers show it as a
// tooltip, with no script.
func (d *svgDoc) titled(tag, title string, attrs ...string) {
	d.start(tag, attrs...)
	d.b.WriteString("><title>" + esc(title) + "</title></" + tag + ">\n")
}

func (d *svgDoc) start(tag string, attrs ...string) {
	d.b.WriteString("<" + tag)
	for i := 0; i+1 < len(attrs); i += 2 {
		d.b.WriteString(" " + attrs[i] + `="` + esc(attrs[i+1]) + `"`)
	}
}

func (d *svgDoc) raw(s string) { d.b.WriteString(s) }

// esc sanitises s (one line, no control characters: see package sanitize)
// and escapes it for XML.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(sanitize.Line(s, 4*maxText))) // writing to a strings.Builder cannot fail
	return b.String()
}

// num formats a coordinate with one decimal, without "-0" or trailing ".0".
func num(f float64) string {
	f = math.Round(f*10) / 10
	if f == 0 {
		f = 0
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// textWidth estimates the width of s in pixels at size px. No font
// metrics are available, so it uses DejaVu Sans's rough advances (the
// widest usual sans-serif): capitals wide, spaces and punctuation narrow.
func textWidth(s string, size float64) float64 {
	em := 0.0
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r == 'm', r == 'w', r == '—', r == '⚠':
			em += 0.75
		case r == ' ', r == '.', r == ',', r == ':', r == 'i', r == 'l', r == 'j', r == '\'', r == '|':
			em += 0.32
		case r == 'f', r == 't', r == 'r', r == '(', r == ')', r == '-':
			em += 0.42
		default:
			em += 0.62
		}
	}
	return em * size
}

// truncate shortens s with an ellipsis to fit width pixels at size px.
func truncate(s string, width, size float64) string {
	if textWidth(s, size) <= width {
		return s
	}
	r := []rune(s)
	for n := len(r) - 1; n > 0; n-- {
		if t := string(r[:n]) + "…"; textWidth(t, size) <= width {
			return t
		}
	}
	return ""
}
