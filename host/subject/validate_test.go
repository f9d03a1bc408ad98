package subject

import (
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/sdk/option"
)

var desc = Description{
	Name: "s",
	Faults: []FaultKind{
		{Kind: "CLOCK_SKEW", Params: []option.Spec{{Name: "skew", Type: option.Duration, Default: "1s"}}},
		{Kind: "NODE_KILL"},
	},
}

func validChapters() []Chapter {
	return []Chapter{
		{ID: "1", Title: "start", Expectations: []Expectation{{Check: Check{Kind: CheckAllNodes, State: Up}, Within: time.Second}}},
		{ID: "2", Title: "skew", Fault: &Fault{Kind: "CLOCK_SKEW", Params: map[string]string{"skew": "5s"}, Duration: time.Second},
			Expectations: []Expectation{
				{Mode: Before, Check: Check{Kind: CheckAllNodes, State: Up}, Within: time.Second},
				{Mode: Holds, Check: Check{Kind: CheckViolationAbsent}, WhileFault: true},
				{Mode: After, Check: Check{Kind: CheckViolationAbsent}, Within: time.Second},
			}},
		{ID: "3", Title: "heal", RevertChaos: true, Expectations: []Expectation{{Mode: After, Check: Check{Kind: CheckAllNodes, State: Up}, Within: time.Second}}},
		{ID: "4", Title: "act", HasAction: true, AutoAdvance: true},
	}
}

func TestCheckChapters(t *testing.T) {
	if err := CheckChapters(desc, validChapters()); err != nil {
		t.Fatalf("valid list refused: %v", err)
	}
	tests := []struct {
		name    string
		mutate  func(cs []Chapter)
		wantErr string
	}{
		{"undeclared kind", func(cs []Chapter) { cs[1].Fault.Kind = "DISK_FULL" }, `chapter 2 ("skew"): fault kind DISK_FULL is not declared by s (it declares CLOCK_SKEW, NODE_KILL)`},
		{"unknown parameter", func(cs []Chapter) { cs[1].Fault.Params = map[string]string{"skw": "1s"} }, `chapter 2 ("skew"): fault CLOCK_SKEW: unknown parameter "skw": known parameters are skew`},
		{"bad parameter", func(cs []Chapter) { cs[1].Fault.Params = map[string]string{"skew": "lots"} }, `parameter skew="lots": want a duration`},
		{"no title", func(cs []Chapter) { cs[0].Title = " " }, "chapter 1 has no title"},
		{"duplicate id", func(cs []Chapter) { cs[2].ID = "1" }, `chapter 3 ("heal"): id "1" is used by an earlier chapter`},
		{"auto advance without action", func(cs []Chapter) { cs[3].HasAction = false }, "auto_advance needs an on-enter action"},
		{"negative countdown", func(cs []Chapter) { cs[1].Countdown = -time.Second }, "countdown must not be negative"},
		{"before without fault", func(cs []Chapter) { cs[0].Expectations[0].Mode = Before }, "a before expectation needs the chapter to have a fault"},
		{"hold while fault without fault", func(cs []Chapter) {
			cs[0].Expectations[0] = Expectation{Mode: Holds, Check: Check{Kind: CheckAllNodes}, WhileFault: true}
		}, "holds while the fault is active needs the chapter to have a fault"},
		{"after without revert", func(cs []Chapter) { cs[2].RevertChaos = false }, "an after expectation needs a fault with a duration or a revert_chaos chapter"},
		{"no within", func(cs []Chapter) { cs[0].Expectations[0].Within = 0 }, "needs a positive `within`"},
		{"unknown check", func(cs []Chapter) { cs[0].Expectations[0].Check.Kind = 42 }, "unknown check kind 42"},
		{"fault target without fault", func(cs []Chapter) {
			cs[0].Expectations[0].Check = Check{Kind: CheckNode, Target: FaultTarget, State: Down}
		}, "target {fault.target} needs a fault injected before the check"},
		{"fault target before the fault", func(cs []Chapter) {
			cs[1].Expectations[0].Check = Check{Kind: CheckNode, Target: FaultTarget, State: Up}
		}, "target {fault.target} needs a fault injected before the check"},
		{"unknown mode", func(cs []Chapter) { cs[0].Expectations[0].Mode = 9 }, "unknown mode 9"},
		{"metric without target", func(cs []Chapter) { cs[0].Expectations[0].Check = Check{Kind: CheckMetricAbove} }, "needs a target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := validChapters()
			tt.mutate(cs)
			err := CheckChapters(desc, cs)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestResolveFaultFillsDefaults(t *testing.T) {
	f, err := ResolveFault(desc, Fault{Kind: "CLOCK_SKEW"})
	if err != nil || f.Params["skew"] != "1s" {
		t.Fatalf("ResolveFault = %+v, %v; want skew=1s from the declared default", f, err)
	}
}

func TestCheckDescription(t *testing.T) {
	for _, tt := range []struct {
		d       Description
		wantErr string
	}{
		{desc, ""},
		{Description{}, "Describe returned no name"},
		{Description{Name: "s", Faults: []FaultKind{{Kind: "clock skew"}}}, `fault kind "clock skew" is not an upper-case identifier`},
		{Description{Name: "s", Faults: []FaultKind{{Kind: "A"}, {Kind: "A"}}}, "fault kind A is declared twice"},
		{Description{Name: "s", Faults: []FaultKind{{Kind: "A", Params: []option.Spec{{Name: "n", Type: option.Int, Default: "x"}}}}}, "fault kind A: default of parameter n"},
		{Description{Name: "s", Options: []option.Spec{{Name: "mode", Type: option.Enum}}}, "option mode is an enum without choices"},
	} {
		err := CheckDescription(tt.d)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CheckDescription(%+v) = %v, want %q", tt.d, err, tt.wantErr)
		}
	}
}

func TestCheckOptions(t *testing.T) {
	d := Description{Name: "s", Options: []option.Spec{{Name: "nodes", Type: option.Int, Default: "3"}}}
	if got, err := CheckOptions(d, nil); err != nil || got["nodes"] != "3" {
		t.Errorf("defaults: %v %v", got, err)
	}
	_, err := CheckOptions(d, map[string]string{"nodez": "5"})
	if err == nil || err.Error() != "unknown option \"nodez\": known options are nodes (see `demohost describe`)" {
		t.Errorf("typo: %v", err)
	}
}
