// Command module is the builtin plugin module: every standard format,
// encoder and metric, built into one Wasm file that the host embeds.
// Rebuild it with `go generate ./builtin`.
package main

import (
	"github.com/netshare/netshare/sdk"

	_ "github.com/netshare/netshare/builtin/encoder/all"
	_ "github.com/netshare/netshare/builtin/format/all"
	_ "github.com/netshare/netshare/builtin/metric/all"
)

func init() { sdk.SetModule("builtin") }

func main() {}
