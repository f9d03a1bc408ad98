// Command demohost-tikv serves the TiKV subject as a demohost plugin.
package main

import (
	"github.com/demohost/demohost/plugins/tikv"
	"github.com/demohost/demohost/sdk"
)

func main() { sdk.Serve(tikv.New()) }
