// Command demohost-ratelimiter is the rate-limiter subject plugin. Started
// by demohost it serves the plugin; `demohost-ratelimiter node …` runs one
// limiter node and `demohost-ratelimiter embedded-redis --listen ADDR` the
// embedded Redis-compatible server (both are started by the plugin itself).
package main

import (
	"fmt"
	"os"

	"github.com/demohost/demohost/plugins/ratelimiter"
	"github.com/demohost/demohost/sdk"
)

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "node":
			err = ratelimiter.RunNode(os.Args[2:], os.Stderr)
		case "embedded-redis":
			err = ratelimiter.RunEmbeddedRedis(os.Args[2:], os.Stderr)
		default:
			err = fmt.Errorf("unknown mode %q: run without arguments under demohost, or `node`, or `embedded-redis`", os.Args[1])
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "demohost-ratelimiter:", err)
			os.Exit(2)
		}
		return
	}
	sdk.Serve(ratelimiter.New())
}
