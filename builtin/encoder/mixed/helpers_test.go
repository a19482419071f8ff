package mixed

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk/sdktest"
)

// The shared test support: real data from enctest, the wire protocol from
// sdktest.

type wire = sdktest.Wire

func newWire(t testing.TB) *wire                   { return sdktest.NewWire(t) }
func loadUGR(t testing.TB) *abi.Batch              { return enctest.LoadUGR(t) }
func sub(b *abi.Batch, names ...string) *abi.Batch { return sdktest.Columns(b, names...) }
