package continuous

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// The reference is the per-row form the type-specialised loops replaced:
// every column type, activation and log1p setting must give the same bits.
func refEncode(st state, x float64) float64 {
	if st.Log1p {
		x = math.Log1p(x)
	}
	s := min(max((x-st.Min)/(st.Max-st.Min), 0), 1)
	if st.Activation == abi.ActTanh {
		s = 2*s - 1
	}
	return s
}

func refDecode(st state, typ abi.Type, s float64) float64 {
	if st.Activation == abi.ActTanh {
		s = (s + 1) / 2
	}
	x := min(max(s, 0), 1)*(st.Max-st.Min) + st.Min
	if st.Log1p {
		x = math.Expm1(x)
	}
	round := func(x, lo, hi float64) float64 { return min(max(math.Round(x), lo), hi) }
	switch typ {
	case abi.TypeU8:
		return float64(uint8(round(x, 0, math.MaxUint8)))
	case abi.TypeU16:
		return float64(uint16(round(x, 0, math.MaxUint16)))
	case abi.TypeU32, abi.TypeIPv4:
		return float64(uint32(round(x, 0, math.MaxUint32)))
	case abi.TypeI64, abi.TypeTime:
		return float64(int64(round(x, -9.223372036854775e18, 9.223372036854775e18)))
	}
	return x
}

// column makes a column of typ from xs, converted as a format would.
func column(typ abi.Type, xs []float64) abi.Column {
	c := abi.Column{Name: "x", Type: typ}
	for _, x := range xs {
		switch typ {
		case abi.TypeU8:
			c.U8 = append(c.U8, uint8(x))
		case abi.TypeU16:
			c.U16 = append(c.U16, uint16(x))
		case abi.TypeU32, abi.TypeIPv4:
			c.U32 = append(c.U32, uint32(x))
		case abi.TypeI64, abi.TypeTime:
			c.I64 = append(c.I64, int64(x))
		default:
			c.F64 = append(c.F64, x)
		}
	}
	return c
}

func TestKernelsMatchReference(t *testing.T) {
	types := []abi.Type{abi.TypeU8, abi.TypeU16, abi.TypeU32, abi.TypeIPv4, abi.TypeI64, abi.TypeTime, abi.TypeF64}
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range types {
		for _, act := range []string{abi.ActSigmoid, abi.ActTanh} {
			for _, log1p := range []bool{false, true} {
				// Fixed bounds narrower than the data, so clamping is exercised.
				params := sdk.Params{"log1p": log1p, "activation": act, "private": false, "min": 3.0, "max": 20000.0}
				e, err := New(sdk.Env{Column: "x", Params: params})
				if err != nil {
					t.Fatal(err)
				}
				xs := make([]float64, 500)
				for i := range xs {
					xs[i] = math.Floor(r.Float64() * 255)
					if typ != abi.TypeU8 && i%2 == 1 {
						// Past the log1p table and past max.
						xs[i] = math.Floor(r.Float64() * 30000)
					}
					if typ == abi.TypeF64 {
						xs[i] = r.Float64()*300 - 0.5
					}
				}
				b := &abi.Batch{Columns: []abi.Column{column(typ, xs)}}
				if err := e.Fit(b); err != nil {
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
				out := &abi.Encoded{Rows: len(xs), ValueWidth: 1, Values: make([]float64, len(xs))}
				if err := e.Encode(b, out); err != nil {
					t.Fatal(err)
				}
				c := &b.Columns[0]
				for i := range xs {
					if want := refEncode(st, c.Float(i)); math.Float64bits(out.Values[i]) != math.Float64bits(want) {
						t.Fatalf("%s %s log1p=%v row %d: encoded %v, want %v", typ, act, log1p, i, out.Values[i], want)
					}
				}
				// Generated values stray outside the activation's range.
				for i := range out.Values {
					out.Values[i] = r.Float64()*3 - 1.5
				}
				d, err := e.Decode(out)
				if err != nil {
					t.Fatal(err)
				}
				got := &d.Columns[0]
				if got.Type != typ || got.Len() != len(xs) {
					t.Fatalf("decoded %s × %d, want %s × %d", got.Type, got.Len(), typ, len(xs))
				}
				for i, s := range out.Values {
					if want := refDecode(st, typ, s); math.Float64bits(got.Float(i)) != math.Float64bits(want) {
						t.Fatalf("%s %s log1p=%v row %d: %v decoded to %v, want %v", typ, act, log1p, i, s, got.Float(i), want)
					}
				}
			}
		}
	}
}

// Bad rows are reported by row whichever loop meets them.
func TestRowErrors(t *testing.T) {
	tests := []struct {
		name  string
		log1p bool
		col   abi.Column
		dec   []float64 // decode input, when the case is about decode
		want  string
	}{
		{"f64 NaN", false, abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{1, 2, math.NaN()}}, nil, "row 2: cannot encode NaN"},
		{"f64 log1p -1", true, abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{1, -1}}, nil, "row 1: cannot encode -1"},
		{"f64 log1p NaN", true, abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{math.NaN()}}, nil, "row 0: cannot encode NaN"},
		{"i64 log1p -5", true, abi.Column{Name: "x", Type: abi.TypeI64, I64: []int64{0, 1, -5}}, nil, "row 2: cannot encode -5"},
		{"decode NaN u16", false, abi.Column{Name: "x", Type: abi.TypeU16, U16: []uint16{1}}, []float64{0.5, math.NaN()}, "row 1 is NaN"},
		{"decode NaN f64 log1p", true, abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{1}}, []float64{math.NaN()}, "row 0 is NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(sdk.Env{Column: "x", Params: sdk.Params{"log1p": tc.log1p, "activation": abi.ActSigmoid, "private": false, "min": 0.0, "max": 10.0}})
			if err != nil {
				t.Fatal(err)
			}
			fit := &abi.Batch{Columns: []abi.Column{column(tc.col.Type, []float64{1})}}
			if err := e.Fit(fit); err != nil {
				t.Fatal(err)
			}
			raw, _ := e.FitEnd()
			if _, err := e.Load(raw); err != nil {
				t.Fatal(err)
			}
			if tc.dec != nil {
				_, err = e.Decode(&abi.Encoded{Rows: len(tc.dec), ValueWidth: 1, Values: tc.dec})
			} else {
				n := tc.col.Len()
				err = e.Encode(&abi.Batch{Columns: []abi.Column{tc.col}}, &abi.Encoded{Rows: n, ValueWidth: 1, Values: make([]float64, n)})
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "continuous x") {
				t.Fatalf("error %v, want one naming the field and containing %q", err, tc.want)
			}
		})
	}
}

// clampRound against math.Round then clamping, on ties, near-ties, large
// and infinite values.
func TestClampRound(t *testing.T) {
	xs := []float64{0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
		4503599627370495.5, 4503599627370497, 1 << 53, 254.5, 255.49999999999997, 255.5, 1e300, -1e300,
		math.Inf(1), math.Inf(-1), math.Nextafter(0.5, 0), math.Nextafter(0.5, 1), 65535.5, 4294967294.5, 9.3e18, -9.3e18}
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		xs = append(xs, (r.Float64()-0.5)*1e6, math.Floor(r.Float64()*1e5)+0.5)
	}
	bounds := [][2]float64{{0, math.MaxUint8}, {0, math.MaxUint16}, {0, math.MaxUint32}, {-9.223372036854775e18, 9.223372036854775e18}}
	for _, b := range bounds {
		for _, x := range xs {
			want := min(max(math.Round(x), b[0]), b[1])
			if got := clampRound(x, b[0], b[1]); got != want {
				t.Fatalf("clampRound(%v, %v, %v) = %v, want %v", x, b[0], b[1], got, want)
			}
		}
	}
}
