package sdk

import (
	"strconv"
	"time"

	"github.com/demohost/demohost/sdk/option"
)

// Options holds option (or fault parameter) values after they were checked
// against their schema, with defaults filled in. The typed getters cannot
// fail on checked values; on a name that is not there they return zero.
type Options map[string]string

// String returns the value.
func (o Options) String(name string) string { return o[name] }

// Int returns the value as an int.
func (o Options) Int(name string) int { n, _ := strconv.Atoi(o[name]); return n }

// Float returns the value as a float64.
func (o Options) Float(name string) float64 { f, _ := strconv.ParseFloat(o[name], 64); return f }

// Bool returns the value as a bool.
func (o Options) Bool(name string) bool { b, _ := strconv.ParseBool(o[name]); return b }

// Duration returns the value as a time.Duration.
func (o Options) Duration(name string) time.Duration { d, _ := time.ParseDuration(o[name]); return d }

// ResolveOptions checks values against schema and fills in defaults, as
// the host and Serve do before Configure: for a plugin's own tests, e.g.
// opts, err := sdk.ResolveOptions(desc.Options, map[string]string{"nodes": "5"}).
func ResolveOptions(schema []Option, values map[string]string) (Options, error) {
	opts, err := option.Resolve(specs(schema), values, "option", "see `demohost describe`")
	return Options(opts), err
}
