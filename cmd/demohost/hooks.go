//go:build !demohost_testhooks

package main

import "github.com/demohost/demohost/host/session"

// testHooks returns the view as it is; a binary built with
// -tags demohost_testhooks wraps it (see hooks_test_build.go).
func testHooks(v session.View) session.View { return v }
