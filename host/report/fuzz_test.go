package report_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/demohost/demohost/host/journal"
	"github.com/demohost/demohost/host/report"
	"github.com/demohost/demohost/internal/testkit"
)

// hostileSeeds are journals a user could hand `demohost report`: times
// out of every range, reversed spans, escape sequences in every string.
var hostileSeeds = []string{
	`{"subject":"x","started_at":"2026-01-01T00:00:00Z","finished_at":"9999-12-31T23:59:59Z","chapters":[{"title":"a","status":"passed","started_at":"2026-01-01T00:00:00Z"}]}`,
	`{"subject":"x","started_at":"0001-01-01T00:00:01Z","finished_at":"9999-12-31T23:59:59Z","node_transitions":[{"at":"2026-01-01T00:00:00Z","node":"n","state":"UP"}]}`,
	`{"subject":"x","started_at":"2026-01-01T00:00:10Z","finished_at":"2026-01-01T00:00:00Z","chaos":[{"name":"f","injected_at":"2026-01-01T00:00:05Z","reverted_at":"2026-01-01T00:00:01Z"}]}`,
	`{"subject":"\u001b]0;PWNED\u0007\u001b[2J","chapters":[{"title":"\u202eevil\nline","status":"failed","started_at":"2026-01-01T00:00:00Z","expectations":[{"description":"]]>\u0000","met":false,"reason":"\ufffe"}]}],"chaos":[{"name":"\u001b[31m","injected_at":"2026-01-01T00:00:01Z","revert_detail":"]]>"}]}`,
	`{"metrics":[{"name":"m","kind":"counter","points":[{"at":"2026-01-01T00:00:00Z","value":1e308},{"at":"2026-01-01T00:00:01Z","value":-1e308},{"at":"9999-01-01T00:00:00Z","value":0}]}]}`,
}

// renderBoth renders j as both reports and checks what a reader relies
// on: well-formed XML, nothing a terminal would act on, a size in
// proportion to the journal's.
func renderBoth(j *journal.Journal, inputSize int) error {
	for name, write := range map[string]func(io.Writer, *journal.Journal) error{"timeline": report.WriteTimeline, "junit": report.WriteJUnit} {
		var out bytes.Buffer
		if err := write(&out, j); err != nil {
			continue // e.g. a journal without a single time: said in one line
		}
		if err := testkit.WellFormedXML(out.Bytes()); err != nil {
			return fmt.Errorf("%s is not well-formed XML: %v", name, err)
		}
		for _, b := range out.Bytes() {
			if b < ' ' && b != '\n' || b == 0x7f {
				return fmt.Errorf("%s holds control byte %#x", name, b)
			}
		}
		if max := 200<<10 + 400*inputSize; out.Len() > max {
			return fmt.Errorf("%s is %d bytes for a %d-byte journal", name, out.Len(), inputSize)
		}
	}
	return nil
}

// A journal finished in year 9999 renders at once: the time axis is
// clamped (it used to loop for ever, growing without bound).
func TestReportOfAJournalFromYear9999IsBounded(t *testing.T) {
	j, err := journal.Decode(strings.NewReader(hostileSeeds[0]), journal.MaxRead)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- renderBoth(j, len(hostileSeeds[0])) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rendering a journal finished in year 9999 did not end within 30s")
	}
}

// FuzzReports: any journal the reader accepts renders as both reports,
// well-formed, clean and bounded. Corpus in testdata/fuzz/FuzzReports,
// run as an ordinary test.
func FuzzReports(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(sampleJournal); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := journal.Decode(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		if err := renderBoth(j, len(b)); err != nil {
			t.Fatal(err)
		}
	})
}
