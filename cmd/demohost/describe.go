package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/demohost/demohost/host/expect"
	"github.com/demohost/demohost/sdk"
)

// describe prints what a subject is: it launches the plugin but never calls
// Setup, so it works with no cluster running.
func describe(o describeOptions, w io.Writer) error {
	s, err := openSession(o.common)
	if err != nil {
		return err
	}
	defer s.Close()
	writeDescription(w, s.path, s.desc, s.chapters)
	return nil
}

// writeDescription renders a description and its chapter list as text.
func writeDescription(w io.Writer, path string, d *sdk.Description, chapters []*sdk.Chapter) {
	fmt.Fprintf(w, "%s %s\n", d.Name, d.Version)
	if d.Description != "" {
		fmt.Fprintf(w, "  %s\n", d.Description)
	}
	fmt.Fprintf(w, "  plugin: %s\n\n", path)

	types := make([]string, len(d.ChaosTypes))
	for i, t := range d.ChaosTypes {
		types[i] = t.String()
	}
	fmt.Fprintf(w, "Chaos types: %s\n\n", orNone(strings.Join(types, ", ")))

	fmt.Fprintln(w, "Options (--set key=value):")
	if len(d.Options) == 0 {
		fmt.Fprintln(w, "  none")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, o := range d.Options {
		typ := strings.ToLower(o.Type.String())
		if o.Type == sdk.Enum {
			typ = strings.Join(o.Choices, "|")
		}
		fmt.Fprintf(tw, "  %s\t%s\tdefault %s\t%s\n", o.Name, typ, quoteEmpty(o.Default), o.Help)
	}
	_ = tw.Flush()

	fmt.Fprintf(w, "\nChapters:\n")
	for i, c := range chapters {
		fmt.Fprintf(w, "  %d. %s%s\n", i+1, c.Title, chapterFlags(c))
		if ch := c.Chaos; ch != nil {
			fmt.Fprintf(w, "       chaos:  %s\n", chaosLine(c))
		}
		if c.RevertChaos {
			fmt.Fprintln(w, "       revert: the chaos still active")
		}
		for _, e := range c.Expectations {
			fmt.Fprintf(w, "       expect: %s\n", expect.Describe(e))
		}
	}
}

func chapterFlags(c *sdk.Chapter) string {
	var f []string
	if c.HasAction {
		f = append(f, "on-enter action")
	}
	if c.AutoAdvance {
		f = append(f, "auto-advance")
	}
	if c.BlocksAdvance {
		f = append(f, "blocks advance")
	}
	if len(f) == 0 {
		return ""
	}
	return "  [" + strings.Join(f, ", ") + "]"
}

// chaosLine is e.g. `CONTAINER_KILL "kill one node" on any target after a
// 3s countdown, until reverted`.
func chaosLine(c *sdk.Chapter) string {
	ch := c.Chaos
	var b strings.Builder
	b.WriteString(ch.Type.String())
	if ch.Name != "" {
		fmt.Fprintf(&b, " %q", ch.Name)
	}
	if ch.Target != "" {
		b.WriteString(" on " + ch.Target)
	} else {
		b.WriteString(" on a target the plugin picks")
	}
	if ch.BurstMultiplier > 0 {
		fmt.Fprintf(&b, " at %gx", ch.BurstMultiplier)
	}
	if d := c.ChaosCountdown.AsDuration(); d > 0 {
		b.WriteString(" after a " + expect.FormatDuration(d) + " countdown")
	}
	if d := ch.Duration.AsDuration(); d > 0 {
		b.WriteString(", for " + expect.FormatDuration(d))
	} else {
		b.WriteString(", until reverted")
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
