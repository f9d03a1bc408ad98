package sdk

import (
	"errors"
	"fmt"
	"slices"

	v1 "github.com/demohost/demohost/sdk/proto/demohost/v1"
)

// ValidateChapters checks a chapter list against the contract and the
// subject's declared chaos types. The host refuses a list that fails it;
// plugin authors can call it from their tests.
func ValidateChapters(chapters []*Chapter, chaosTypes []ChaosType) error {
	if len(chapters) == 0 {
		return errors.New("the subject returned no chapters")
	}
	for i, c := range chapters {
		where := fmt.Sprintf("chapter %d", i+1)
		if c == nil {
			return fmt.Errorf("%s is empty", where)
		}
		if c.Title == "" {
			return fmt.Errorf("%s has no title", where)
		}
		where = fmt.Sprintf("chapter %d (%q)", i+1, c.Title)
		if c.AutoAdvance && !c.HasAction {
			return fmt.Errorf("%s: auto_advance needs an on-enter action (has_action)", where)
		}
		if d := c.ChaosCountdown; d != nil && (d.AsDuration() < 0 || !d.IsValid()) {
			return fmt.Errorf("%s: chaos_countdown must not be negative", where)
		}
		if ch := c.Chaos; ch != nil {
			if ch.Type == v1.ChaosType_CHAOS_TYPE_UNSPECIFIED {
				return fmt.Errorf("%s: chaos has no type", where)
			}
			if !slices.Contains(chaosTypes, ch.Type) {
				return fmt.Errorf("%s: chaos type %s is not among the subject's chaos types %v", where, ch.Type, chaosTypes)
			}
			if d := ch.Duration; d != nil && d.AsDuration() < 0 {
				return fmt.Errorf("%s: chaos duration must not be negative", where)
			}
			if ch.Type == BurstTraffic && ch.BurstMultiplier <= 0 {
				return fmt.Errorf("%s: BURST_TRAFFIC needs burst_multiplier > 0", where)
			}
		}
		for j, e := range c.Expectations {
			if err := validateExpectation(e); err != nil {
				return fmt.Errorf("%s, expectation %d: %w", where, j+1, err)
			}
		}
	}
	return nil
}

func validateExpectation(e *Expectation) error {
	if e == nil {
		return errors.New("empty")
	}
	if e.Within == nil || e.Within.AsDuration() <= 0 {
		return errors.New("needs a positive `within` deadline")
	}
	switch e.Kind {
	case v1.ExpectationKind_VIOLATION_PRESENT:
		if e.Invariant == "" {
			return errors.New("VIOLATION_PRESENT needs an invariant")
		}
	case v1.ExpectationKind_VIOLATION_ABSENT, v1.ExpectationKind_ALL_NODES_STATE:
	case v1.ExpectationKind_NODE_STATE, v1.ExpectationKind_METRIC_ABOVE, v1.ExpectationKind_METRIC_BELOW:
		if e.Target == "" {
			return fmt.Errorf("%s needs a target", e.Kind)
		}
	default:
		return fmt.Errorf("unknown kind %d", e.Kind)
	}
	return nil
}
