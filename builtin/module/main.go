// Command module is the builtin plugin module: every standard format,
// encoder and metric, built into one Wasm file that the host embeds.
// Rebuild it with `go generate ./builtin`.
package main

import (
	"github.com/netshare/netshare/sdk"

	_ "github.com/netshare/netshare/builtin/encoder/identity"
)

func init() { sdk.SetModule("builtin") }

func main() {}
