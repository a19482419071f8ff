package ipbits

import (
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk/sdktest"
)

func TestEncodeBits(t *testing.T) {
	tests := []struct {
		name string
		ip   uint32
		ones []int // bit positions (MSB = 0) that are 1
	}{
		{"zero", 0, nil},
		{"all ones", 0xFFFFFFFF, func() []int {
			var s []int
			for i := 0; i < 32; i++ {
				s = append(s, i)
			}
			return s
		}()},
		{"msb and lsb", 0x80000001, []int{0, 31}},
		{"10.10.10.10", 10<<24 | 10<<16 | 10<<8 | 10, []int{4, 6, 12, 14, 20, 22, 28, 30}},
	}
	w := newWire(t)
	h := w.Open("ip-bits", "srcip", nil, 1)
	st := w.Fit(h, &abi.Batch{Columns: []abi.Column{{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{1}}}})
	outs := w.Load(h, st)
	if len(outs) != 32 {
		t.Fatalf("got %d outputs, want 32", len(outs))
	}
	for _, o := range outs {
		if o.Width != 2 || !o.Discrete || o.Activation != abi.ActSoftmax {
			t.Fatalf("output %+v: want a 2-wide discrete softmax", o)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := w.Encode(h, &abi.Batch{Columns: []abi.Column{{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{tc.ip}}}})
			if e.Rows != 1 || e.HotWidth != 32 || e.ValueWidth != 0 {
				t.Fatalf("encoded %d rows of %d indices and %d values, want 1 of 32 and 0", e.Rows, e.HotWidth, e.ValueWidth)
			}
			// As the GAN sees it.
			got := sdktest.Dense(outs, e)
			want := make([]float64, 64)
			for k := 0; k < 32; k++ {
				want[2*k] = 1
			}
			for _, k := range tc.ones {
				want[2*k], want[2*k+1] = 0, 1
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("value %d = %v, want %v (row %v)", i, got[i], want[i], got)
				}
			}
		})
	}
}

func TestRoundTripRealData(t *testing.T) {
	b := loadUGR(t)
	for _, col := range []string{"srcip", "dstip"} {
		t.Run(col, func(t *testing.T) {
			w := newWire(t)
			h := w.Open("ip-bits", col, nil, 1)
			st := w.Fit(h, b)
			w.Load(h, st)
			got := w.Decode(h, w.Encode(h, sub(b, col)))
			c := got.Column(col)
			if c == nil || c.Type != abi.TypeIPv4 {
				t.Fatalf("decoded batch %+v lacks an ipv4 column %q", got, col)
			}
			for i, v := range b.Column(col).U32 {
				if c.U32[i] != v {
					t.Fatalf("row %d: decoded %08x, want %08x", i, c.U32[i], v)
				}
			}
		})
	}
}

// Generated vectors are soft: each pair decodes by its larger element
// once the host has taken the argmax.
func TestDecodeSoft(t *testing.T) {
	w := newWire(t)
	h := w.Open("ip-bits", "dstip", nil, 1)
	outs := w.Load(h, []byte(`{"type":"u32"}`))
	row := make([]float64, 64)
	want := uint32(0xC0A80101) // 192.168.1.1
	for k := 0; k < 32; k++ {
		p := 0.2 + 0.01*float64(k%7) // below one half: bit 0
		if want>>(31-k)&1 == 1 {
			p = 1 - p
		}
		row[2*k], row[2*k+1] = 1-p, p
	}
	// An exact tie decodes to 0 (NetShare: p1 > p0).
	row2 := make([]float64, 64)
	for i := range row2 {
		row2[i] = 0.5
	}
	b := w.Decode(h, sdktest.Sparse(outs, append(row, row2...)))
	c := b.Column("dstip")
	if c.Type != abi.TypeU32 {
		t.Errorf("decoded type %s, want the fitted u32", c.Type)
	}
	if c.U32[0] != want || c.U32[1] != 0 {
		t.Errorf("decoded %08x %08x, want %08x 00000000", c.U32[0], c.U32[1], want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(w *wire, h uint32) error
		want string
	}{
		{"missing column", func(w *wire, h uint32) error {
			_, err := w.TryFit(h, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeIPv4, U32: []uint32{1}}}})
			return err
		}, `no column "srcip"`},
		{"wrong type", func(w *wire, h uint32) error {
			_, err := w.TryFit(h, &abi.Batch{Columns: []abi.Column{{Name: "srcip", Type: abi.TypeU16, U16: []uint16{1}}}})
			return err
		}, "want ipv4 or u32"},
		{"bad state", func(w *wire, h uint32) error {
			_, err := w.TryLoad(h, []byte(`{"type":"string"}`))
			return err
		}, "state names column type"},
		{"wrong width", func(w *wire, h uint32) error {
			w.Load(h, []byte(`{"type":"ipv4"}`))
			_, err := w.TryDecode(h, &abi.Encoded{Rows: 1, HotWidth: 3, Hot: make([]uint32, 3)})
			return err
		}, "3 indices and 0 values each, the outputs 32 and 0"},
		{"index outside a pair", func(w *wire, h uint32) error {
			w.Load(h, []byte(`{"type":"ipv4"}`))
			hot := make([]uint32, 32)
			hot[5] = 2
			_, err := w.TryDecode(h, &abi.Encoded{Rows: 1, HotWidth: 32, Hot: hot})
			return err
		}, `output "srcip.bit5": index 2 outside its width 2`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h := w.Open("ip-bits", "srcip", nil, 1)
			err := tc.run(w, h)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
