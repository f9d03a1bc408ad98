// Command demohost-etcd is the etcd subject plugin of demohost. Started by
// demohost it serves the plugin; `demohost-etcd netns-exec NS PATH ARGS…`
// runs PATH inside network namespace NS (the plugin starts its members so).
package main

import (
	"fmt"
	"os"

	"github.com/demohost/demohost/plugins/etcd"
	"github.com/demohost/demohost/sdk"
)

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] != "netns-exec" {
			fmt.Fprintf(os.Stderr, "demohost-etcd: unknown mode %q: run it without arguments under demohost\n", os.Args[1])
			os.Exit(2)
		}
		err := etcd.RunInNamespace(os.Args[2:])
		fmt.Fprintln(os.Stderr, "demohost-etcd:", err)
		os.Exit(2)
	}
	sdk.Serve(etcd.New())
}
