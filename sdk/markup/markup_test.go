package markup

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	bold := Style{Bold: true}
	dim := Style{Dim: true}
	red := Style{Color: Red}
	tests := []struct {
		in   string
		want []Span
	}{
		{"", nil},
		{"plain text", []Span{{"plain text", Style{}}}},
		{"Nothing is wrong *yet*.", []Span{{"Nothing is wrong ", Style{}}, {"yet", bold}, {".", Style{}}}},
		{"_node_down clears._", []Span{{"node_down clears.", dim}}},
		{"all [green]UP[/] now", []Span{{"all ", Style{}}, {"UP", Style{Color: Green}}, {" now", Style{}}}},
		{"[red]kill[/red] it", []Span{{"kill", red}, {" it", Style{}}}},
		{"[RED]loud[/]", []Span{{"loud", red}}},
		{"[red]a [cyan]b[/] c[/]", []Span{{"a ", red}, {"b", Style{Color: Cyan}}, {" c", red}}},
		{"[red]*bold red*[/]", []Span{{"bold red", Style{Bold: true, Color: Red}}}},
		{"*_both_*", []Span{{"both", Style{Bold: true, Dim: true}}}},
		{"**strong**", []Span{{"strong", bold}}},
		// Lenient: what does not pair up is text.
		{"2 * 3 = 6", []Span{{"2 * 3 = 6", Style{}}}},
		{"5*3*2", []Span{{"5*3*2", Style{}}}},
		{"Press *q to quit", []Span{{"Press *q to quit", Style{}}}},
		{"snake_case_name", []Span{{"snake_case_name", Style{}}}},
		{"[red]never closed", []Span{{"[red]never closed", Style{}}}},
		{"stray [/] close", []Span{{"stray [/] close", Style{}}}},
		{"[red]x[/blue]", []Span{{"[red]x[/blue]", Style{}}}},
		{"chapter [1/5] and [foo]", []Span{{"chapter [1/5] and [foo]", Style{}}}},
		{"[", []Span{{"[", Style{}}}},
		{"**", []Span{{"**", Style{}}}},
		{"* not bold *", []Span{{"* not bold *", Style{}}}},
		// Escapes.
		{`\*literal\* and \[red]`, []Span{{"*literal* and [red]", Style{}}}},
		{`a\\b \x`, []Span{{`a\b \x`, Style{}}}},
		{"trailing \\", []Span{{"trailing \\", Style{}}}},
	}
	for _, tt := range tests {
		got := Parse(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	clean := []string{
		"", "Three nodes, all [green]UP[/]. Nothing is wrong *yet*.",
		"The node is started again. _node_down clears._", "2 * 3", "chapter [1/5]", `\[red]`,
	}
	for _, s := range clean {
		if err := Check(s); err != nil {
			t.Errorf("Check(%q) = %v, want nil", s, err)
		}
	}
	bad := map[string]string{
		"Press *q to quit":   "column 7: * is never closed",
		"[red]never closed":  "column 1: [red] is never closed",
		"stray [/] here":     "column 7: [/] closes no open colour",
		"a [purple]thing[/]": "column 3: [purple] is not a colour",
		"_dim forever":       "column 1: _ is never closed",
	}
	for s, want := range bad {
		err := Check(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v, want it to contain %q", s, err, want)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"node_down", "*[red]x[/]*", `back\slash`, "a_b*c[d]e"} {
		spans := Parse(Escape(s))
		if len(spans) != 1 || spans[0].Text != s || spans[0].Style != (Style{}) {
			t.Errorf("Parse(Escape(%q)) = %+v, want the text unstyled", s, spans)
		}
	}
}

func TestColorString(t *testing.T) {
	if Magenta.String() != "magenta" || Default.String() != "" || Color(42).String() != "Color(42)" {
		t.Errorf("colour names: %q %q %q", Magenta, Default, Color(42))
	}
}

// FuzzParse checks that Parse never panics and that its spans are sound.
// The seed corpus in testdata/fuzz/FuzzParse runs as an ordinary test; run
// `go test -fuzz FuzzParse ./sdk/markup` to look for more.
func FuzzParse(f *testing.F) {
	f.Add("Nothing is wrong *yet*. [green]UP[/] _dim_")
	f.Fuzz(func(t *testing.T, s string) {
		spans := Parse(s)
		total := 0
		for i, sp := range spans {
			if sp.Text == "" {
				t.Fatalf("span %d is empty: %+v", i, spans)
			}
			if i > 0 && spans[i-1].Style == sp.Style {
				t.Fatalf("spans %d and %d share a style: %+v", i-1, i, spans)
			}
			if sp.Style.Color > Cyan {
				t.Fatalf("span %d has colour %d", i, sp.Style.Color)
			}
			total += len(sp.Text)
		}
		if total > len(s) {
			t.Fatalf("output (%d bytes) longer than input (%d bytes)", total, len(s))
		}
		if utf8.ValidString(s) && !utf8.ValidString(Plain(s)) {
			t.Fatalf("valid input %q gave invalid UTF-8 %q", s, Plain(s))
		}
		if !strings.ContainsAny(s, `*_[\`) && Plain(s) != s {
			t.Fatalf("text without markup changed: %q -> %q", s, Plain(s))
		}
		if utf8.ValidString(s) {
			esc := Parse(Escape(s))
			if s != "" && (len(esc) != 1 || esc[0].Text != s || esc[0].Style != (Style{})) {
				t.Fatalf("Parse(Escape(%q)) = %+v, want the text unstyled", s, esc)
			}
		}
		_ = Check(s)
	})
}
