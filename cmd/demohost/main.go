// Command demohost runs guided chaos demos: it launches a subject plugin,
// walks its chapters in the terminal (or headless, for CI) and reverts
// every fault it injected on the way out. See README.md.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/demohost/demohost/host/conform"
	"github.com/demohost/demohost/host/sanitize"
)

// Exit codes (docs/ARCHITECTURE.md, "CLI contract").
const (
	exitPassed = 0 // every chapter passed
	exitFailed = 1 // a chapter failed (or the demo was quit before its end)
	exitUsage  = 2 // bad input, or the plugin failed
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "describe" {
		opts, err := parseDescribeArgs(args[1:])
		if err != nil {
			return usageError(stdout, stderr, err)
		}
		return fail(stderr, describeCommand(opts, stdout))
	}
	if len(args) > 0 && args[0] == "report" {
		opts, err := parseReportArgs(args[1:])
		if err != nil {
			return usageError(stdout, stderr, err)
		}
		return fail(stderr, reportCommand(opts, stdout))
	}
	if len(args) > 0 && args[0] == "replay" {
		opts, err := parseReplayArgs(args[1:])
		if err != nil {
			return usageError(stdout, stderr, err)
		}
		return replayCommand(opts, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "conform" {
		opts, err := parseConformArgs(args[1:])
		if err != nil {
			return usageError(stdout, stderr, err)
		}
		return conformCommand(opts, stdout, stderr)
	}
	if len(args) > 0 && args[0] == conform.HostCommand {
		return conformHostCommand(os.Stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "recover" {
		opts, err := parseRecoverArgs(args[1:])
		if err != nil {
			return usageError(stdout, stderr, err)
		}
		return fail(stderr, recoverCommand(opts, stdout))
	}
	opts, err := parseRunArgs(args)
	if err != nil {
		return usageError(stdout, stderr, err)
	}
	return runDemo(opts, stdout, stderr)
}

// usageError prints help for -h, else the one-line error.
func usageError(stdout, stderr io.Writer, err error) int {
	if err == errHelp {
		fmt.Fprint(stdout, usage)
		return exitPassed
	}
	return fail(stderr, err)
}

// fail prints err as the one line a user sees and returns exitUsage (or
// exitPassed when err is nil).
func fail(stderr io.Writer, err error) int {
	if err == nil {
		return exitPassed
	}
	sanitize.Fprintf(stderr, "demohost: %v", err)
	return exitUsage
}
