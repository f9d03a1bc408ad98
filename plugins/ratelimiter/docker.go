package ratelimiter

import (
	"context"
	"errors"

	"github.com/demohost/demohost/sdk"
)

func newDockerCluster(context.Context, *Subject, sdk.Options, sdk.Progress) (cluster, error) {
	return nil, errors.New("docker runtime: not yet")
}

func unpauseDockerRedis(context.Context, string) error { return errors.New("docker runtime: not yet") }
