// Command sleeper is the tiny static program the sdk/docker tests put in an
// image: it answers "ok" on :8080 until it is killed.
package main

import (
	"log"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	log.Fatal(http.ListenAndServe(":8080", nil))
}
