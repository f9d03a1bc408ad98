package main

import (
	"io"

	"github.com/demohost/demohost/host/describe"
	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/session"
)

// describeCommand is `demohost describe`: it launches the plugin but never
// calls Setup, so it works with no cluster running.
func describeCommand(o describeOptions, w io.Writer) error {
	cfg, err := o.sessionConfig()
	if err != nil {
		return err
	}
	s, err := session.Open(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	describe.Write(w, s.Path, s.Description, s.Chapters)
	return nil
}

// reportCommand is `demohost report`: it rebuilds the timeline and the
// JUnit XML from a saved journal.
func reportCommand(o reportOptions, stdout io.Writer) error {
	j, err := journal.Read(o.journal)
	if err != nil {
		return err
	}
	return o.outputs.Write(j, stdout)
}

// recoverCommand is `demohost recover`.
func recoverCommand(o recoverOptions, stdout io.Writer) error {
	return session.Recover(session.RecoverOptions{Plugin: o.plugin, SHA256: o.sha256, LogFile: o.logFile, ForgetMissing: o.forgetMissing}, stdout)
}
