package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"

	"github.com/demohost/demohost/sdk/leftovers"
	"github.com/demohost/demohost/sdk/process"
)

// OwnerLabel names the plugin process that created a container, network or
// image (leftovers.OwnerID: "PID-START"); see Owned and ReapLeftovers.
const OwnerLabel = "demohost.owner"

// Owned is scope narrowed to what plugin process owner creates
// (leftovers.Self(), usually): create a run's containers, network and
// images through a Target of that scope, so that ReapLeftovers can tell
// them from those of plugin processes still running.
func Owned(scope Scope, owner process.Identity) Scope {
	s := maps.Clone(scope)
	s[OwnerLabel] = leftovers.OwnerID(owner)
	return s
}

// ReapLeftovers removes, within scope, every container, network and image
// that a plugin process now gone created (see Owned): what a crash left.
// What plugin processes still running created is left alone. It says
// through warn, one line per gone owner, what it removed (pass
// progress.Warning of Setup or Teardown).
func ReapLeftovers(ctx context.Context, scope Scope, warn func(string)) error {
	t, err := New(scope)
	if err != nil {
		return err
	}
	defer t.Close()
	owners, err := t.owners(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range slices.Sorted(maps.Keys(owners)) {
		id, err := leftovers.ParseOwnerID(o)
		if err != nil || id.Alive() {
			continue // not an owner we name, or a demo running right now
		}
		left, err := New(Owned(scope, id))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cs, _ := left.List(ctx)
		if err := left.RemoveAll(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove what plugin process %s left: %w", o, err))
		} else {
			warn(fmt.Sprintf("removed %s from an earlier run that did not finish (plugin process %s is gone)", what(len(cs)), o))
		}
		left.Close()
	}
	return errors.Join(errs...)
}

// what is "3 leftover containers", or "its leftover network and images".
func what(containers int) string {
	switch containers {
	case 0:
		return "the leftover network and images"
	case 1:
		return "1 leftover container"
	}
	return fmt.Sprintf("%d leftover containers", containers)
}

// owners collects the owner labels of the containers, networks and images
// in scope.
func (t *Target) owners(ctx context.Context) (map[string]bool, error) {
	owners := map[string]bool{}
	cs, err := t.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if o := c.Labels[OwnerLabel]; o != "" {
			owners[o] = true
		}
	}
	nws, err := t.cli.NetworkList(ctx, network.ListOptions{Filters: t.labelFilter()})
	if err != nil {
		return nil, fmt.Errorf("list networks %s: %w", t.scope, err)
	}
	for _, nw := range nws {
		if o := nw.Labels[OwnerLabel]; o != "" && t.scope.Matches(nw.Labels) {
			owners[o] = true
		}
	}
	imgs, err := t.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", ImageScopeLabel))})
	if err != nil {
		return nil, fmt.Errorf("list images %s: %w", t.scope, err)
	}
	for _, img := range imgs {
		built, err := ParseScope(img.Labels[ImageScopeLabel])
		if err != nil || built[OwnerLabel] == "" || !t.scope.Matches(built) {
			continue
		}
		owners[built[OwnerLabel]] = true
	}
	return owners, nil
}
