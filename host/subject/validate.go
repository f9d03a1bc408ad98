package subject

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/demohost/demohost/sdk/option"
)

// kindRE is what a fault kind looks like: an upper-case identifier.
var kindRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// CheckDescription checks what Describe returned: a name, a valid option
// schema, fault kinds that are upper-case identifiers declared once, each
// with a valid parameter schema.
func CheckDescription(d Description) error {
	if strings.TrimSpace(d.Name) == "" {
		return errors.New("Describe returned no name")
	}
	if err := option.CheckSchema(d.Options, "option"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range d.Faults {
		if !kindRE.MatchString(k.Kind) {
			return fmt.Errorf("fault kind %q is not an upper-case identifier (e.g. LEADER_KILL)", k.Kind)
		}
		if seen[k.Kind] {
			return fmt.Errorf("fault kind %s is declared twice", k.Kind)
		}
		seen[k.Kind] = true
		if err := option.CheckSchema(k.Params, "parameter"); err != nil {
			return fmt.Errorf("fault kind %s: %w", k.Kind, err)
		}
	}
	return nil
}

// CheckOptions checks --set values against the subject's schema and fills
// in defaults, as the host does before Configure for every plugin.
func CheckOptions(d Description, set map[string]string) (map[string]string, error) {
	return option.Resolve(d.Options, set, "option", "see `demohost describe`")
}

// CheckChapters checks a chapter list against the contract and against the
// subject's declared fault kinds and their parameters. Errors name the
// chapter and the problem in one line.
func CheckChapters(d Description, chapters []Chapter) error {
	if len(chapters) == 0 {
		return errors.New("the subject returned no chapters")
	}
	ids := map[string]bool{}
	for i, c := range chapters {
		where := fmt.Sprintf("chapter %d", i+1)
		if strings.TrimSpace(c.Title) == "" {
			return fmt.Errorf("%s has no title", where)
		}
		where = fmt.Sprintf("chapter %d (%q)", i+1, c.Title)
		if c.ID == "" {
			return fmt.Errorf("%s has no id", where)
		}
		if ids[c.ID] {
			return fmt.Errorf("%s: id %q is used by an earlier chapter", where, c.ID)
		}
		ids[c.ID] = true
		if c.AutoAdvance && !c.HasAction {
			return fmt.Errorf("%s: auto_advance needs an on-enter action", where)
		}
		if c.Countdown < 0 {
			return fmt.Errorf("%s: countdown must not be negative", where)
		}
		if c.Fault != nil {
			if err := checkFault(d, c.Fault); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		for j, e := range c.Expectations {
			if err := checkExpectation(c, e); err != nil {
				return fmt.Errorf("%s, expectation %d: %w", where, j+1, err)
			}
		}
	}
	return nil
}

// ResolveFault checks f's parameters against its declared kind and fills in
// their defaults.
func ResolveFault(d Description, f Fault) (Fault, error) {
	if err := checkFault(d, &f); err != nil {
		return f, err
	}
	k, _ := d.FaultKind(f.Kind)
	params, err := option.Resolve(k.Params, f.Params, "parameter", "fault "+f.Kind+" takes "+option.Names(k.Params))
	if err != nil {
		return f, err
	}
	f.Params = params
	return f, nil
}

func checkFault(d Description, f *Fault) error {
	if f.Kind == "" {
		return errors.New("fault has no kind")
	}
	k, ok := d.FaultKind(f.Kind)
	if !ok {
		return fmt.Errorf("fault kind %s is not declared by %s (it declares %s)", f.Kind, d.Name, kindNames(d.Faults))
	}
	if f.Duration < 0 {
		return errors.New("fault duration must not be negative")
	}
	if _, err := option.Resolve(k.Params, f.Params, "parameter", "fault "+f.Kind+" takes "+option.Names(k.Params)); err != nil {
		return fmt.Errorf("fault %s: %w", f.Kind, err)
	}
	return nil
}

func kindNames(kinds []FaultKind) string {
	if len(kinds) == 0 {
		return "no fault kinds"
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Kind
	}
	return strings.Join(names, ", ")
}

func checkExpectation(c Chapter, e Expectation) error {
	switch e.Mode {
	case Eventually:
	case Holds:
		if e.WhileFault && c.Fault == nil {
			return errors.New("holds while the fault is active needs the chapter to have a fault")
		}
	case Before:
		if c.Fault == nil {
			return errors.New("a before expectation needs the chapter to have a fault to come before")
		}
	case After:
		if !c.RevertChaos && (c.Fault == nil || c.Fault.Duration <= 0) {
			return errors.New("an after expectation needs a fault with a duration or a revert_chaos chapter")
		}
	default:
		return fmt.Errorf("unknown mode %d", e.Mode)
	}
	if e.Check.Target == FaultTarget && (c.Fault == nil || e.Mode == Before) {
		return errors.New("target " + FaultTarget + " needs a fault injected before the check: a chapter with a fault, and not a before expectation")
	}
	if e.WhileFault && e.Mode != Holds {
		return errors.New("while_fault is for holds expectations only")
	}
	if !e.WhileFault && e.Within <= 0 {
		return errors.New("needs a positive `within`")
	}
	switch e.Check.Kind {
	case CheckViolationPresent:
		if e.Check.Invariant == "" {
			return errors.New("VIOLATION_PRESENT needs an invariant")
		}
	case CheckViolationAbsent, CheckAllNodes:
	case CheckNode, CheckMetricAbove, CheckMetricBelow:
		if e.Check.Target == "" {
			return fmt.Errorf("check %d needs a target", e.Check.Kind)
		}
	default:
		return fmt.Errorf("unknown check kind %d", e.Check.Kind)
	}
	return nil
}
