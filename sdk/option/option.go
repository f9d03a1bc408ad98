// Package option checks option values against a schema: the --set options
// of a subject and the parameters of a fault. Host and sdk both use it, so
// a bad value gets the same one-line error whichever side refuses it.
// Plugin authors declare options as sdk.Option; this package is the
// checking both sides share.
package option

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Type is the type of an option's value.
type Type int

// Types, numbered as on the wire.
const (
	String   Type = iota
	Int           // a whole number: 3, -1
	Bool          // true or false (strconv.ParseBool)
	Duration      // Go duration syntax: 250ms, 30s, 1m30s
	Float         // a number: 1.5
	Enum          // one of Choices
)

// String is the type's name in lower case, as `demohost describe` shows it.
func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case Duration:
		return "duration"
	case Float:
		return "float"
	case Enum:
		return "enum"
	}
	return fmt.Sprintf("type(%d)", int(t))
}

// Spec documents one option.
type Spec struct {
	Name    string
	Type    Type
	Default string
	Help    string
	Choices []string // for Enum
}

// Resolve checks values against schema and fills in defaults. Every option
// of the schema is in the result. what names the values in errors
// ("option", "parameter"); see is where the user finds the list
// ("see `demohost describe`").
func Resolve(schema []Spec, values map[string]string, what, see string) (map[string]string, error) {
	byName := make(map[string]Spec, len(schema))
	for _, s := range schema {
		byName[s.Name] = s
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(schema))
	for _, s := range schema {
		out[s.Name] = s.Default
	}
	for _, k := range keys {
		spec, ok := byName[k]
		if !ok {
			return nil, fmt.Errorf("unknown %s %q: known %ss are %s%s", what, k, what, Names(schema), seeSuffix(see))
		}
		if err := Check(spec, values[k], what); err != nil {
			return nil, err
		}
		out[k] = values[k]
	}
	return out, nil
}

func seeSuffix(see string) string {
	if see == "" {
		return ""
	}
	return " (" + see + ")"
}

// Check checks one value against its spec; the error names the option and
// says what is accepted.
func Check(spec Spec, v, what string) error {
	bad := func(want string) error {
		return fmt.Errorf("%s %s=%q: want %s", what, spec.Name, v, want)
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
	case String:
	default:
		return fmt.Errorf("%s %s has an unknown type %d", what, spec.Name, int(spec.Type))
	}
	return nil
}

// CheckSchema checks a schema itself: every name present and unique, enums
// with choices, and each default of its declared type (a string may default
// to empty).
func CheckSchema(schema []Spec, what string) error {
	seen := map[string]bool{}
	for _, s := range schema {
		if s.Name == "" {
			return fmt.Errorf("a %s has no name", what)
		}
		if seen[s.Name] {
			return fmt.Errorf("%s %q is declared twice", what, s.Name)
		}
		seen[s.Name] = true
		if s.Type == Enum && len(s.Choices) == 0 {
			return fmt.Errorf("%s %s is an enum without choices", what, s.Name)
		}
		if s.Type == String && s.Default == "" {
			continue
		}
		if err := Check(s, s.Default, what); err != nil {
			return fmt.Errorf("default of %w", err)
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

// Names lists the schema's names, comma-separated ("none" when empty).
func Names(schema []Spec) string {
	if len(schema) == 0 {
		return "none"
	}
	names := make([]string, len(schema))
	for i, s := range schema {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}
