package sdk

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options holds every option of a subject's schema after validation, with
// defaults filled in. The typed getters cannot fail on validated options.
type Options map[string]string

// String returns the option's value.
func (o Options) String(name string) string { return o[name] }

// Int returns the option as an int (0 if absent).
func (o Options) Int(name string) int { n, _ := strconv.Atoi(o[name]); return n }

// Float returns the option as a float64 (0 if absent).
func (o Options) Float(name string) float64 { f, _ := strconv.ParseFloat(o[name], 64); return f }

// Bool returns the option as a bool (false if absent).
func (o Options) Bool(name string) bool { b, _ := strconv.ParseBool(o[name]); return b }

// Duration returns the option as a time.Duration (0 if absent).
func (o Options) Duration(name string) time.Duration { d, _ := time.ParseDuration(o[name]); return d }

// ResolveOptions checks values against the schema and fills in defaults.
// Errors name the option and say what is accepted.
func ResolveOptions(schema []*OptionSpec, values map[string]string) (Options, error) {
	byName := make(map[string]*OptionSpec, len(schema))
	for _, s := range schema {
		byName[s.Name] = s
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := Options{}
	for _, s := range schema {
		out[s.Name] = s.Default
	}
	for _, k := range keys {
		spec, ok := byName[k]
		if !ok {
			return nil, fmt.Errorf("unknown option %q: known options are %s (see `demohost describe`)", k, optionNames(schema))
		}
		if err := checkValue(spec, values[k]); err != nil {
			return nil, err
		}
		out[k] = values[k]
	}
	return out, nil
}

func checkValue(spec *OptionSpec, v string) error {
	bad := func(want string) error {
		return fmt.Errorf("option %s=%q: want %s", spec.Name, v, want)
	}
	switch spec.Type {
	case Int:
		if _, err := strconv.Atoi(v); err != nil {
			return bad("a whole number, e.g. " + exampleOr(spec.Default, "3"))
		}
	case Float:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return bad("a number, e.g. " + exampleOr(spec.Default, "1.5"))
		}
	case Bool:
		if _, err := strconv.ParseBool(v); err != nil {
			return bad("true or false")
		}
	case Duration:
		if _, err := time.ParseDuration(v); err != nil {
			return bad("a duration such as " + exampleOr(spec.Default, "500ms") + " or 30s")
		}
	case Enum:
		if !slices.Contains(spec.Choices, v) {
			return bad("one of " + strings.Join(spec.Choices, ", "))
		}
	}
	return nil
}

func exampleOr(def, fallback string) string {
	if def != "" {
		return def
	}
	return fallback
}

func optionNames(schema []*OptionSpec) string {
	if len(schema) == 0 {
		return "none"
	}
	names := make([]string, len(schema))
	for i, s := range schema {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
