package sdk

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/demohost/demohost/sdk/internal/wire"
	"github.com/demohost/demohost/sdk/option"
)

// This file converts between the sdk's Go types and its copy of the wire
// types. Nothing else in the sdk touches generated code.

func descriptionToWire(d Description) *wire.DescribeResponse {
	out := &wire.DescribeResponse{Name: d.Name, Version: d.Version, Description: d.Description}
	for _, o := range d.Options {
		out.Options = append(out.Options, optionToWire(o))
	}
	for _, f := range d.Faults {
		k := &wire.FaultKind{Kind: f.Kind, Description: f.Description, Target: f.Target}
		for _, p := range f.Params {
			k.Params = append(k.Params, optionToWire(p))
		}
		out.Faults = append(out.Faults, k)
	}
	return out
}

func optionToWire(o Option) *wire.OptionSpec {
	return &wire.OptionSpec{Name: o.Name, Type: wire.OptionType(o.Type), Default: o.Default, Help: o.Help, Choices: o.Choices}
}

// specs is a schema for the option package.
func specs(opts []Option) []option.Spec {
	out := make([]option.Spec, len(opts))
	for i, o := range opts {
		out[i] = option.Spec{Name: o.Name, Type: option.Type(o.Type), Default: o.Default, Help: o.Help, Choices: o.Choices}
	}
	return out
}

func chapterToWire(c Chapter) *wire.Chapter {
	out := &wire.Chapter{
		Id: c.ID, Title: c.Title, Narration: c.Narration, KeyHint: c.KeyHint,
		AutoAdvance: c.AutoAdvance, BlocksAdvance: c.BlocksAdvance, HasAction: c.Action != nil,
		RevertChaos: c.RevertChaos, Skip: c.Skip,
	}
	if c.Fault != nil {
		out.Fault = faultToWire(*c.Fault)
	}
	if c.Countdown != 0 {
		out.Countdown = durationpb.New(c.Countdown)
	}
	for _, e := range c.Expectations {
		out.Expectations = append(out.Expectations, &wire.Expectation{
			Check: wire.CheckKind(e.Check.Kind), Invariant: e.Check.Invariant, Target: e.Check.Target,
			State: wire.NodeState(e.Check.State), Threshold: e.Check.Threshold,
			Within: durationpb.New(e.Within), Description: e.Description,
			Mode: wire.ExpectationMode(e.Mode), WhileFault: e.WhileFault,
		})
	}
	return out
}

func faultToWire(f Fault) *wire.Fault {
	out := &wire.Fault{Kind: f.Kind, Name: f.Name, Target: f.Target, Description: f.Description, Params: f.Params}
	if f.Duration != 0 {
		out.Duration = durationpb.New(f.Duration)
	}
	return out
}

func faultFromWire(f *wire.Fault) Fault {
	return Fault{
		Kind: f.GetKind(), Name: f.GetName(), Target: f.GetTarget(), Description: f.GetDescription(),
		Duration: f.GetDuration().AsDuration(), Params: Options(f.GetParams()),
	}
}

func healthToWire(h HealthSnapshot) *wire.HealthSnapshot {
	if h.TakenAt.IsZero() {
		h.TakenAt = time.Now()
	}
	out := &wire.HealthSnapshot{TakenAt: timestamppb.New(h.TakenAt), Error: h.Error}
	for _, n := range h.Nodes {
		out.Nodes = append(out.Nodes, &wire.Node{Id: n.ID, Name: n.Name, Role: n.Role, State: wire.NodeState(n.State), Address: n.Address, Detail: n.Detail})
	}
	for _, m := range h.Metrics {
		out.Metrics = append(out.Metrics, &wire.Metric{Name: m.Name, Value: m.Value, Unit: m.Unit, Kind: wire.MetricKind(m.Kind)})
	}
	for _, c := range h.Counters {
		out.Counters = append(out.Counters, &wire.Counter{Key: c.Key, Count: c.Count, Limit: c.Limit})
	}
	for _, v := range h.Violations {
		wv := &wire.Violation{Invariant: v.Invariant, Severity: wire.Severity(v.Severity), Target: v.Target, Message: v.Message}
		if !v.Since.IsZero() {
			wv.Since = timestamppb.New(v.Since)
		}
		out.Violations = append(out.Violations, wv)
	}
	return out
}

func progressToWire(sev Severity, msg string) *wire.Progress {
	return &wire.Progress{Severity: wire.Severity(sev), Message: msg}
}

// faultKind finds kind among the declared faults.
func faultKind(d Description, kind string) (FaultKind, error) {
	for _, k := range d.Faults {
		if k.Kind == kind {
			return k, nil
		}
	}
	names := make([]string, len(d.Faults))
	for i, k := range d.Faults {
		names[i] = k.Kind
	}
	return FaultKind{}, fmt.Errorf("fault kind %q is not among the kinds %s declares (%v)", kind, d.Name, names)
}
