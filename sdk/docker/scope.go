// Package docker is a label-scoped chaos target for subjects whose nodes run
// as Docker containers. A Target acts only on containers that carry every
// label of its Scope (for example the plugin's own label, or a compose
// project): every mutating call checks the container first and refuses any
// other with an error naming it (docs/ARCHITECTURE.md, "Chaos safety").
//
// It also creates what a plugin or its tests need on the engine — a private
// network, labelled containers, an image built FROM scratch from a static
// binary — and removes all of it again with RemoveAll. Nothing is pulled:
// images are built locally through the Engine API.
package docker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ComposeProjectLabel is the label docker compose puts on every container
// of a project.
const ComposeProjectLabel = "com.docker.compose.project"

// ComposeServiceLabel is the label docker compose puts on a container with
// the name of its service.
const ComposeServiceLabel = "com.docker.compose.service"

// Scope is the set of labels a container must carry (all of them, with
// these values) for a Target to act on it. It is never empty.
type Scope map[string]string

// ComposeProject is the scope of one docker compose project.
func ComposeProject(project string) Scope { return Scope{ComposeProjectLabel: project} }

// ParseScope reads a selector such as "demohost.plugin=tikv" or
// "com.docker.compose.project=tikv,demohost.role=store".
func ParseScope(selector string) (Scope, error) {
	s := Scope{}
	for part := range strings.SplitSeq(selector, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("label selector %q: want key=value[,key=value], e.g. demohost.plugin=tikv", selector)
		}
		s[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("label selector %q is empty: want key=value, e.g. demohost.plugin=tikv", selector)
	}
	return s, nil
}

// Matches reports whether labels carry every label of the scope.
func (s Scope) Matches(labels map[string]string) bool {
	if len(s) == 0 {
		return false
	}
	for k, v := range s {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// String is the selector form, keys sorted: "a=1,b=2".
func (s Scope) String() string {
	keys := slices.Sorted(maps.Keys(s))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s[k]
	}
	return strings.Join(parts, ",")
}

// ErrOutOfScope is wrapped by every refusal to act on a container outside
// the Target's scope; test with errors.Is.
var ErrOutOfScope = errors.New("container is outside the plugin's scope")

// outOfScope is the refusal error: it names the container and the action.
func outOfScope(action, name, id string, scope Scope) error {
	return fmt.Errorf("refusing to %s container %s (%s): it does not carry the labels %s: %w",
		action, name, shortID(id), scope, ErrOutOfScope)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
