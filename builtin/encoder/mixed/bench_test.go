package mixed

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/enctest"
	"github.com/netshare/netshare/sdk"
)

// BenchmarkEncode and BenchmarkDecode time the encoder's own loops on 64k
// rows of packet lengths (spikes at 52, 60 and 1500 and a spread rest) and
// of heavy-tailed byte counts, in ns per row.
func BenchmarkEncode(b *testing.B) { benchCases(b, false) }
func BenchmarkDecode(b *testing.B) { benchCases(b, true) }

func benchCases(b *testing.B, decode bool) {
	r := rand.New(rand.NewPCG(1, 2))
	lens := make([]uint16, 1<<16)
	for i := range lens {
		switch u := r.Float64(); {
		case u < 0.35:
			lens[i] = 52
		case u < 0.45:
			lens[i] = 60
		case u < 0.75:
			lens[i] = 1500
		default:
			lens[i] = uint16(40 + r.IntN(1460))
		}
	}
	byts := make([]int64, 1<<16)
	for i := range byts {
		byts[i] = 40 + int64(math.Floor(r.ExpFloat64()*r.ExpFloat64()*5000))
	}
	cases := []struct {
		name  string
		col   abi.Column
		log1p bool
	}{
		{"u16-pkt_len", abi.Column{Name: "x", Type: abi.TypeU16, U16: lens}, false},
		{"i64-byt-log1p", abi.Column{Name: "x", Type: abi.TypeI64, I64: byts}, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			e, err := New(sdk.Env{Column: "x", Seed: 1, Params: sdk.Params{"log1p": tc.log1p, "modes": ModesAuto, "private": false}})
			if err != nil {
				b.Fatal(err)
			}
			enctest.Kernels(b, e, &abi.Batch{Columns: []abi.Column{tc.col}}, decode)
		})
	}
}
