package sdk

import (
	"strings"
	"testing"
)

func TestResolveOptions(t *testing.T) {
	schema := []*OptionSpec{
		{Name: "nodes", Type: Int, Default: "3"},
		{Name: "window", Type: Duration, Default: "2s"},
		{Name: "policy", Type: Enum, Default: "open", Choices: []string{"open", "closed", "local"}},
		{Name: "verbose", Type: Bool, Default: "false"},
		{Name: "ratio", Type: Float, Default: "0.5"},
	}
	tests := []struct {
		name    string
		in      map[string]string
		want    map[string]string
		wantErr string
	}{
		{name: "defaults", in: nil, want: map[string]string{"nodes": "3", "window": "2s", "policy": "open"}},
		{name: "override", in: map[string]string{"nodes": "5", "policy": "local"}, want: map[string]string{"nodes": "5", "policy": "local", "window": "2s"}},
		{name: "unknown key", in: map[string]string{"nodez": "5"}, wantErr: `unknown option "nodez": known options are nodes, window, policy, verbose, ratio`},
		{name: "bad int", in: map[string]string{"nodes": "three"}, wantErr: `option nodes="three": want a whole number`},
		{name: "bad duration", in: map[string]string{"window": "2"}, wantErr: `option window="2": want a duration`},
		{name: "bad enum", in: map[string]string{"policy": "maybe"}, wantErr: "want one of open, closed, local"},
		{name: "bad bool", in: map[string]string{"verbose": "yes please"}, wantErr: "want true or false"},
		{name: "bad float", in: map[string]string{"ratio": "half"}, wantErr: "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveOptions(schema, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestOptionsGetters(t *testing.T) {
	o := Options{"n": "7", "d": "250ms", "b": "true", "f": "1.5", "s": "x"}
	if o.Int("n") != 7 || o.Duration("d").Milliseconds() != 250 || !o.Bool("b") || o.Float("f") != 1.5 || o.String("s") != "x" {
		t.Fatalf("getters returned wrong values for %v", o)
	}
}
