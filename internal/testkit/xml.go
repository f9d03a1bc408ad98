package testkit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// WellFormedXML decodes b as XML to its end and returns the first error,
// nil when b is well-formed.
func WellFormedXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
