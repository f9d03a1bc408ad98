// Command conform-fixture starts what `demohost conform` needs to check
// the tikv plugin: the TEST FIXTURE cluster of ./fixture (a fixture PD,
// fixture stores and a load client as containers built locally; never a
// real TiKV). It follows the conform fixture convention of the host's test
// of every plugin (host/conform/plugins_test.go): it prints conform's
// arguments one per line, then "ready", keeps the cluster until its stdin
// closes (or a signal comes), then removes it. Run it from plugins/tikv.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/demohost/demohost/plugins/tikv/fixture"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "conform-fixture:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "tikv-conform-fixture-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := fixture.BuildBinary(ctx, dir)
	if err != nil {
		return err
	}
	c, err := fixture.StartCluster(ctx, bin, fixture.ClusterConfig{Run: fmt.Sprintf("conform-%d", os.Getpid())})
	if err != nil {
		return fmt.Errorf("start the fixture cluster (it needs the Docker engine): %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Remove(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "conform-fixture: remove the fixture cluster:", err)
		}
	}()
	fmt.Printf("--set pd=%s\n--set selector=%s\nready\n", c.PDAddr, c.Selector)

	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	select {
	case <-done:
	case <-sigs:
	}
	return nil
}
