package option

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	schema := []Spec{
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
		{name: "defaults", in: nil, want: map[string]string{"nodes": "3", "window": "2s", "policy": "open", "verbose": "false", "ratio": "0.5"}},
		{name: "override", in: map[string]string{"nodes": "5", "policy": "local"}, want: map[string]string{"nodes": "5", "policy": "local", "window": "2s"}},
		{name: "unknown key", in: map[string]string{"nodez": "5"}, wantErr: `unknown option "nodez": known options are nodes, window, policy, verbose, ratio (see it)`},
		{name: "bad int", in: map[string]string{"nodes": "three"}, wantErr: `option nodes="three": want a whole number, e.g. 3`},
		{name: "bad duration", in: map[string]string{"window": "2"}, wantErr: `option window="2": want a duration such as 2s or 30s`},
		{name: "bad enum", in: map[string]string{"policy": "maybe"}, wantErr: "want one of open, closed, local"},
		{name: "bad bool", in: map[string]string{"verbose": "yes please"}, wantErr: "want true or false"},
		{name: "bad float", in: map[string]string{"ratio": "half"}, wantErr: "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(schema, tt.in, "option", "see it")
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

func TestCheckSchema(t *testing.T) {
	for _, tt := range []struct {
		schema  []Spec
		wantErr string
	}{
		{[]Spec{{Name: "a", Type: Int, Default: "1"}, {Name: "s"}}, ""},
		{[]Spec{{Name: "a"}, {Name: "a"}}, `parameter "a" is declared twice`},
		{[]Spec{{Type: Int}}, "a parameter has no name"},
		{[]Spec{{Name: "e", Type: Enum}}, "parameter e is an enum without choices"},
		{[]Spec{{Name: "d", Type: Duration, Default: "soon"}}, `default of parameter d="soon": want a duration`},
		{[]Spec{{Name: "n", Type: Int}}, `default of parameter n="": want a whole number`},
	} {
		err := CheckSchema(tt.schema, "parameter")
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CheckSchema(%v) = %v, want %q", tt.schema, err, tt.wantErr)
		}
	}
}
