package main

import (
	"strings"
	"testing"
)

func TestParseSet(t *testing.T) {
	for in, want := range map[string][2]string{
		"nodes=5":          {"nodes", "5"},
		"target=":          {"target", ""},
		"cmd=a=b":          {"cmd", "a=b"},
		" countdown =10s ": {"countdown", "10s "},
	} {
		k, v, err := parseSet(in)
		if err != nil || k != want[0] || v != want[1] {
			t.Errorf("parseSet(%q) = %q, %q, %v; want %q, %q", in, k, v, err, want[0], want[1])
		}
	}
	for _, in := range []string{"nodes", "=5", "", "a b=1"} {
		if _, _, err := parseSet(in); err == nil {
			t.Errorf("parseSet(%q) accepted a malformed option", in)
		}
	}
}

// FuzzParseSet: any accepted --set yields a non-empty key without blanks,
// and key=value rebuilds the input (after trimming the key).
func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"nodes=5", "target=", "cmd=a=b", "=", "x", " k = v", "k\n=v", "ключ=значение"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := parseSet(s)
		if err != nil {
			return
		}
		if k == "" || strings.ContainsAny(k, " \t\n") {
			t.Fatalf("parseSet(%q) accepted key %q", s, k)
		}
		rawKey, rawValue, _ := strings.Cut(s, "=")
		if strings.TrimSpace(rawKey) != k || rawValue != v {
			t.Fatalf("parseSet(%q) = %q, %q; does not match the input", s, k, v)
		}
	})
}
