package journal_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/demohost/demohost/host/journal"
)

// The reader stops at its limit, whatever the input: an endless one
// (/dev/zero) fails at once; one over the limit fails saying so, having
// read no more than the limit and a byte.
func TestDecodeIsBounded(t *testing.T) {
	zero, err := os.Open("/dev/zero")
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	if _, err := journal.Decode(zero, journal.MaxRead); err == nil || !strings.Contains(err.Error(), "not a demohost journal") {
		t.Errorf("/dev/zero: %v; want not a demohost journal", err)
	}
	// An endless journal that is valid JSON as far as it goes.
	endless := &repeat{head: `{"subject":"x","events":[`, body: `{"kind":"status","message":"padding"},`}
	_, err = journal.Decode(endless, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Errorf("endless journal: %v; want larger than 1 MiB", err)
	}
	if endless.read > 1<<20+1+4096 {
		t.Errorf("read %d bytes of an endless journal; want the limit and no more than a buffer beyond", endless.read)
	}
	if _, err := journal.Decode(strings.NewReader(`{"subject":"x"} {"subject":"y"}`), 1<<20); err == nil {
		t.Error("two journals in one file read as one")
	}
}

type repeat struct {
	head, body string
	read       int
}

// Read reads on in head, then body again and again.
func (r *repeat) Read(p []byte) (int, error) {
	for i := range p {
		pos := r.read + i
		if pos < len(r.head) {
			p[i] = r.head[pos]
		} else {
			p[i] = r.body[(pos-len(r.head))%len(r.body)]
		}
	}
	r.read += len(p)
	return len(p), nil
}

// FuzzDecode: any input is read within the limit and either fails or gives
// a journal that encodes and reads back the same. Corpus in
// testdata/fuzz/FuzzDecode, run as an ordinary test.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"subject":"x","finished_at":"9999-12-31T23:59:59Z"}`, `[]`, "\x00", `{"chapters":[{"title":"a"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 64 << 10
		j, err := journal.Decode(bytes.NewReader(b), limit)
		if len(b) > limit+1 && err == nil {
			t.Fatalf("read %d bytes past a limit of %d", len(b), limit)
		}
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := j.Encode(&out); err != nil {
			return // e.g. a time outside what JSON encodes
		}
		again, err := journal.Decode(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("a journal it encoded does not read back: %v\n%s", err, out.String())
		}
		var out2 bytes.Buffer
		if err := again.Encode(&out2); err != nil || !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatalf("a journal read back encodes differently (%v):\n%s\n%s", err, out.String(), out2.String())
		}
	})
}
