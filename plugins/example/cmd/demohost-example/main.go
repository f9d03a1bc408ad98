// Command demohost-example serves the example subject as a demohost plugin.
package main

import (
	"github.com/demohost/demohost/plugins/example"
	"github.com/demohost/demohost/sdk"
)

func main() { sdk.Serve(example.New()) }
