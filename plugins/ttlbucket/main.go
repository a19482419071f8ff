// Command ttlbucket is an example third-party netshare plugin: an encoder
// that turns IP TTL values into a one-hot over buckets of initial TTLs
// (hosts start at 32, 64, 128 or 255 and routers decrement it), so the GAN
// learns which kind of host sent a packet and how far away it is, instead
// of a raw number.
//
// Build it with the stock toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ttlbucket.wasm ./plugins/ttlbucket
//
// and name it in a pipeline:
//
//	[[plugins.module]]
//	path = "ttlbucket.wasm"
//
//	[[fields]]
//	name = "ttl"
//	role = "feature"
//	encoder = "ttl-bucket"
package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

func main() {}

func init() {
	sdk.SetModule("ttlbucket")
	sdk.RegisterEncoder(abi.Component{
		Name:    "ttl-bucket",
		Version: "1.0.0",
		Summary: "one-hot over initial-TTL buckets; decodes to each bucket's most common TTL",
		Params: []abi.Param{
			{Name: "bounds", Type: abi.ParamInts, Default: []any{int64(32), int64(64), int64(128), int64(255)},
				Doc: "upper bounds of the buckets, ascending; the last must be 255"},
		},
	}, newEncoder)
}

type encoder struct {
	column string
	bounds []int64
	counts []map[uint8]int // per bucket, how often each TTL was seen (fitting)
	modes  []uint8         // per bucket, the TTL a decoded value gets
}

// state is what the host stores with the model.
type state struct {
	Bounds []int64 `json:"bounds"`
	Modes  []uint8 `json:"modes"`
}

func newEncoder(env sdk.Env) (sdk.FieldEncoder, error) {
	b := env.Params.Ints("bounds")
	if len(b) == 0 || b[len(b)-1] != 255 || !sort.SliceIsSorted(b, func(i, j int) bool { return b[i] < b[j] }) {
		return nil, fmt.Errorf("ttl-bucket: bounds must ascend and end at 255, got %v", b)
	}
	e := &encoder{column: env.Column, bounds: b, counts: make([]map[uint8]int, len(b))}
	for i := range e.counts {
		e.counts[i] = map[uint8]int{}
	}
	return e, nil
}

func (e *encoder) bucket(ttl uint8) int {
	return sort.Search(len(e.bounds), func(i int) bool { return int64(ttl) <= e.bounds[i] })
}

func (e *encoder) column8(b *abi.Batch) ([]uint8, error) {
	c := b.Column(e.column)
	if c == nil || c.Type != abi.TypeU8 {
		return nil, fmt.Errorf("ttl-bucket: need a u8 column %q", e.column)
	}
	return c.U8, nil
}

func (e *encoder) Fit(b *abi.Batch) error {
	ttls, err := e.column8(b)
	if err != nil {
		return err
	}
	for _, t := range ttls {
		e.counts[e.bucket(t)][t]++
	}
	return nil
}

func (e *encoder) FitEnd() ([]byte, error) {
	s := state{Bounds: e.bounds, Modes: make([]uint8, len(e.bounds))}
	for i, m := range e.counts {
		s.Modes[i] = uint8(e.bounds[i]) // a bucket never seen decodes to its bound
		best := 0
		for ttl, n := range m {
			if n > best || (n == best && ttl < s.Modes[i]) {
				s.Modes[i], best = ttl, n
			}
		}
	}
	return json.Marshal(s)
}

func (e *encoder) Load(raw []byte) ([]abi.Output, error) {
	var s state
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("ttl-bucket: bad state: %w", err)
	}
	if len(s.Modes) != len(s.Bounds) {
		return nil, fmt.Errorf("ttl-bucket: state has %d modes for %d buckets", len(s.Modes), len(s.Bounds))
	}
	e.bounds, e.modes = s.Bounds, s.Modes
	return []abi.Output{{Name: e.column, Width: len(e.bounds), Discrete: true, Activation: abi.ActSoftmax}}, nil
}

// Encode gives each TTL the index of its bucket: the host turns it into
// the one-hot vector the GAN sees.
func (e *encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	ttls, err := e.column8(b)
	if err != nil {
		return err
	}
	for i, t := range ttls {
		out.Hot[i] = uint32(e.bucket(t))
	}
	return nil
}

// Decode maps a bucket (the host's argmax of the generated vector) to the
// bucket's most common TTL.
func (e *encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	out := make([]uint8, in.Rows)
	for i := range out {
		out[i] = e.modes[in.Hot[i]]
	}
	return &abi.Batch{Columns: []abi.Column{{Name: e.column, Type: abi.TypeU8, U8: out}}}, nil
}
