// Command hostile is a plugin whose encoders misbehave on purpose: each one
// attacks the host in one way, and the host's tests check that it survives
// with a clear error.
package main

import (
	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

type hostile struct {
	sdk.FieldEncoder
	encode func(*abi.Batch, *abi.Encoded) error
}

func (h hostile) Encode(b *abi.Batch, out *abi.Encoded) error { return h.encode(b, out) }

// Load describes one value a row, so that encode-values reaches Encode.
func (hostile) Load([]byte) ([]abi.Output, error) {
	return []abi.Output{{Name: "v", Width: 1, Activation: abi.ActSigmoid}}, nil
}

var sink [][]byte

var behaviours = map[string]func(*abi.Batch, *abi.Encoded) error{
	// A panic inside component code: the sdk recovers it.
	"panic": func(*abi.Batch, *abi.Encoded) error { panic("boom from the panic encoder") },
	// An endless loop: only the host's call time limit ends it.
	"loop": func(*abi.Batch, *abi.Encoded) error {
		for i := 0; ; i++ {
			if i < 0 {
				return nil
			}
		}
	},
	// Allocates until the memory cap stops it.
	"bomb": func(*abi.Batch, *abi.Encoded) error {
		for {
			sink = append(sink, make([]byte, 16<<20))
		}
	},
	// A fatal runtime error the sdk cannot recover: the module dies.
	"fatal": func(*abi.Batch, *abi.Encoded) error {
		var m map[int]int
		done := make(chan bool)
		go func() {
			defer func() { done <- true }()
			m[1] = 1 // nil map write in another goroutine: not recoverable by the sdk
		}()
		<-done
		return nil
	},
	// Resizes its output past its declared layout.
	"liar": func(b *abi.Batch, out *abi.Encoded) error {
		out.Values = make([]float64, 3*b.Len())
		return nil
	},
}

func main() {}

func init() {
	sdk.SetModule("hostile")
	for name, fn := range behaviours {
		fn := fn
		sdk.RegisterEncoder(abi.Component{Name: name, Version: "0.0.1"}, func(sdk.Env) (sdk.FieldEncoder, error) {
			return hostile{encode: fn}, nil
		})
	}
}
