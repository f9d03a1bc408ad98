package journal

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Indented all the way down, indentTo is json.Indent: the same bytes.
func TestIndentToIsJSONIndentAllTheWay(t *testing.T) {
	src := []byte(`{"a":[],"b":{},"c":[{"d":"x\\\"}]{[,:","e":[1,2,{"f":null}]}],"g":"","h":{"i":{"j":[[]]}}}`)
	var want bytes.Buffer
	if err := json.Indent(&want, src, "", "  "); err != nil {
		t.Fatal(err)
	}
	if got := indentTo(src, 100); string(got) != want.String() {
		t.Errorf("indentTo:\n%s\njson.Indent:\n%s", got, want.String())
	}
	if got := indentTo(src, 0); string(got) != string(src) {
		t.Errorf("depth 0: %s, want the compact input", got)
	}
}
