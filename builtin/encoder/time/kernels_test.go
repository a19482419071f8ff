package time

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// Decoding generated values (outside [0,1] too) gives exactly what the
// per-row form with min, max and math.Round gave, for every part.
func TestDecodeMatchesReference(t *testing.T) {
	fit := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: []int64{1000, 1010, 1530, 90000, 90001, 170000}},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: []uint32{0, 0, 0, 1, 1, 2}},
	}}
	r := rand.New(rand.NewPCG(5, 6))
	in := make([]float64, 5000)
	for i := range in {
		in[i] = r.Float64()*1.4 - 0.2
	}
	in = append(in, 0, 1, 0.5, math.Nextafter(0.5, 0), math.Inf(1), math.Inf(-1))
	for _, p := range []sdk.Params{
		{"mode": ModeInterarrival, "part": abi.PartStart, "private": false},
		{"mode": ModeInterarrival, "part": abi.PartStart, "private": false, "start_bins": int64(defaultStartBins)},
		{"mode": ModeInterarrival, "part": abi.PartIAT, "private": false},
		{"mode": ModeInterarrival, "part": abi.PartIAT, "private": false, "iat_min": 1e-6, "iat_max": 3.0},
		{"mode": ModeRaw, "part": abi.PartIAT, "private": false},
	} {
		e, err := New(sdk.Env{Column: "ts", Params: p})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Fit(fit); err != nil {
			t.Fatal(err)
		}
		raw, err := e.FitEnd()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Load(raw); err != nil {
			t.Fatal(err)
		}
		st := e.(*Encoder).st
		iat := p["part"] == abi.PartIAT && p["mode"] == ModeInterarrival
		enc := &abi.Encoded{Rows: len(in), ValueWidth: 1, Values: in}
		k := 0
		if p["part"] == abi.PartStart && p.Has("start_bins") {
			if k = st.StartBins; k != defaultStartBins {
				t.Fatalf("%d start bins, want %d", k, defaultStartBins)
			}
			enc.HotWidth = 1
			for range in {
				enc.Hot = append(enc.Hot, uint32(r.IntN(k)))
			}
		}
		got, err := e.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range in {
			s = min(max(s, 0), 1)
			if k > 0 {
				s = (float64(enc.Hot[i]) + s) / float64(k)
			}
			want := st.Lo + int64(math.Round(s*float64(st.Hi-st.Lo)))
			if iat {
				want = max(0, int64(math.Round(s*(st.IATHi-st.IATLo)+st.IATLo)))
			}
			if g := got.Columns[0].I64[i]; g != want {
				t.Fatalf("%v: %v decodes to %d, want %d", p, in[i], g, want)
			}
		}
	}
}

// Encode errors name the field and the row wherever the row is.
func TestEncodeOrderError(t *testing.T) {
	e, _ := New(sdk.Env{Column: "ts", Params: sdk.Params{"mode": ModeInterarrival, "part": abi.PartIAT, "private": false, "span_start": int64(0), "span_end": int64(10), "iat_max": 1.0}})
	raw, err := e.FitEnd()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(raw); err != nil {
		t.Fatal(err)
	}
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: []int64{5, 1, 2, 9, 7}},
		{Name: abi.FlowColumn, Type: abi.TypeU32, U32: []uint32{0, 1, 1, 1, 1}},
	}}
	err = e.Encode(b, &abi.Encoded{Rows: 5, ValueWidth: 1, Values: make([]float64, 5)})
	if err == nil || err.Error() != "time ts: row 4 (flow 1) is 2 µs before the flow's previous record: rows must be in time order within a flow" {
		t.Fatalf("error %v", err)
	}
}
