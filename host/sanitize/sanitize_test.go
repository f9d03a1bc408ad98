package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"plain", "node-1 DOWN", "node-1 DOWN"},
		{"clear screen and home", "a\x1b[2J\x1b[Hb", "ab"},
		{"colour", "\x1b[31;1mred\x1b[0m", "red"},
		{"window title (OSC, BEL)", "x\x1b]0;pwned\x07y", "xy"},
		{"window title (OSC, ST)", "x\x1b]2;pwned\x1b\\y", "xy"},
		{"unterminated OSC swallows the rest", "x\x1b]0;pwned", "x"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"charset escape", "a\x1b(0b", "ab"},
		{"keypad escape", "a\x1b=b", "ab"},
		{"lone escape at the end", "a\x1b", "a"},
		{"8-bit CSI", "a\u009b2Jb", "ab"},
		{"8-bit OSC up to 8-bit ST", "a\u009d0;t\u009cb", "ab"},
		{"other C1 escaped", "a\u0085b", `a\u0085b`},
		{"bell escaped", "ding\x07", `ding\x07`},
		{"backspace escaped", "ab\bc", `ab\x08c`},
		{"DEL escaped", "a\x7fb", `a\x7fb`},
		{"bidi override escaped", "abc\u202edcba", `abc\u202edcba`},
		{"isolate escaped", "a\u2066b\u2069", `a\u2066b\u2069`},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"multi-line error", "rpc error:\n  dial failed\r\n  retrying\n", "rpc error: dial failed retrying"},
		{"tabs", "a\tb", "a b"},
		{"unicode kept", "✗ node-2 ‖ PAUSED — 日本", "✗ node-2 ‖ PAUSED — 日本"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.in, 0); got != tt.want {
				t.Errorf("Line(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTextKeepsLineBreaks(t *testing.T) {
	in := "first\x1b[2K line\r\nsecond\rthird\x07"
	if got, want := Text(in, 0), "first line\nsecond\nthird\\x07"; got != want {
		t.Errorf("Text = %q; want %q", got, want)
	}
}

func TestCuts(t *testing.T) {
	long := strings.Repeat("x", 100*1024)
	if got := Line(long, 80); utf8.RuneCountInString(got) != 80 || !strings.HasSuffix(got, "…") {
		t.Errorf("Line of 100 KB cut to 80: %d runes, ends %q", utf8.RuneCountInString(got), got[len(got)-5:])
	}
	msg := `option name="` + long + `": want at most 20 characters; see demohost describe`
	got := Error(msg, 200)
	if utf8.RuneCountInString(got) != 200 || !strings.HasPrefix(got, `option name="xxx`) || !strings.HasSuffix(got, "see demohost describe") || !strings.Contains(got, "…") {
		t.Errorf("Error kept %d runes: %q…%q", utf8.RuneCountInString(got), got[:30], got[len(got)-30:])
	}
	if got := Line("日本語のテキスト", 4); got != "日本語…" {
		t.Errorf("cut of wide runes = %q", got)
	}
	if got := Line("short", 80); got != "short" {
		t.Errorf("short text changed: %q", got)
	}
}

func TestSkip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"abc", 0}, {"\x1b[2Jx", 4}, {"\x07x", 1}, {"\u202ex", 3}, {"\u009b31mx", 5}, {"\xffx", 1}, {"é", 0},
	} {
		if got := Skip(tt.in); got != tt.want {
			t.Errorf("Skip(%q) = %d; want %d", tt.in, got, tt.want)
		}
	}
}

// Whatever goes in, what comes out holds no byte a terminal acts on.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2J", "\x1b]0;t\x07", "a\nb", "\u009b1m", "\xff\xfe", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Line(s, 0), Error(s, 50), Text(s, 0)} {
			if !utf8.ValidString(out) {
				t.Fatalf("%q gave invalid UTF-8 %q", s, out)
			}
			for _, r := range out {
				if r < ' ' && r != '\n' || r == 0x7f || isC1(r) || isBidi(r) {
					t.Fatalf("%q gave %q, holding %U", s, out, r)
				}
			}
		}
		if strings.Contains(Line(s, 0), "\n") {
			t.Fatalf("Line(%q) holds a line break", s)
		}
		if n := utf8.RuneCountInString(Error(s, 50)); n > 50 {
			t.Fatalf("Error(%q, 50) has %d runes", s, n)
		}
		// Clean text is returned as it is.
		if Clean(s) && Line(s, 0) != s {
			t.Fatalf("clean %q changed", s)
		}
	})
}
