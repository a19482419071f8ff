package dist

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortFloats(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	gens := map[string]func() float64{
		"normal":   func() float64 { return r.NormFloat64() * 1e3 },
		"integers": func() float64 { return float64(r.IntN(50)) },
		"mixed": func() float64 {
			return []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 1e-310, -1e-310, 5, -5}[r.IntN(8)]
		},
		"large":     func() float64 { return float64(1458298072364000 + r.IntN(1e8)) },
		"heavytail": func() float64 { return math.Exp(r.NormFloat64() * 5) },
	}
	var scratch []uint64
	for name, gen := range gens {
		for _, n := range []int{0, 1, 2, 3, 100, 10000} {
			v := make([]float64, n)
			for i := range v {
				v[i] = gen()
			}
			want := slices.Clone(v)
			slices.Sort(want)
			scratch = SortFloats(v, scratch)
			for i := range v {
				// slices.Sort may order -0 and +0 either way; the values
				// compare equal.
				if v[i] != want[i] {
					t.Fatalf("%s n=%d: position %d is %v, want %v", name, n, i, v[i], want[i])
				}
			}
			if !slices.IsSorted(v) {
				t.Fatalf("%s n=%d: not sorted", name, n)
			}
		}
	}
}

func TestSortUint32s(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var scratch []uint32
	for _, n := range []int{0, 1, 5, 10000} {
		for _, mask := range []uint32{0xff, 0xffff00, 0xffffffff} {
			v := make([]uint32, n)
			for i := range v {
				v[i] = r.Uint32() & mask
			}
			want := slices.Clone(v)
			slices.Sort(want)
			scratch = SortUint32s(v, scratch)
			if !slices.Equal(v, want) {
				t.Fatalf("n=%d mask=%x: radix sort differs from slices.Sort", n, mask)
			}
		}
	}
}

func TestSortCountsDesc(t *testing.T) {
	v := []float64{3, 1, 4, 1, 5, 9, 2, 6}
	SortCountsDesc(v, nil)
	if !slices.Equal(v, []float64{9, 6, 5, 4, 3, 2, 1, 1}) {
		t.Fatalf("got %v", v)
	}
}

func FuzzSortFloats(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v []float64
		for len(b) >= 8 {
			x := math.Float64frombits(uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
				uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56)
			b = b[8:]
			if !math.IsNaN(x) {
				v = append(v, x)
			}
		}
		want := slices.Clone(v)
		slices.Sort(want)
		SortFloats(v, nil)
		for i := range v {
			if v[i] != want[i] {
				t.Fatalf("position %d: %v, want %v", i, v[i], want[i])
			}
		}
	})
}
