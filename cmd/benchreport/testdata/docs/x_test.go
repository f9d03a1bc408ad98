package docs

import "testing"

// BenchmarkDetectionLatency measures the time from SIGKILLing a store
// container to store_down in the subject's health.
//
//	go test -run '^$' -bench DetectionLatency ./plugins/tikv/
//
// Target: under 1 s to store_down.
func BenchmarkDetectionLatency(b *testing.B) {}

func BenchmarkUndocumented(b *testing.B) {}

// BenchmarkInline measures a thing. Target: ≤ 1s.
func BenchmarkInline(b *testing.B) {}
