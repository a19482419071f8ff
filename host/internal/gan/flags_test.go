package gan

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/netshare/netshare/host/internal/tensor"
)

// TestGenFlagEncoding: DoppelGANger's add_gen_flag with S = 2 and a data
// length (5) that the model pads to 6.
func TestGenFlagEncoding(t *testing.T) {
	cases := []struct {
		len  int
		want [][2]float32
	}{
		{1, [][2]float32{{0, 1}, {0, 1}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}},
		{2, [][2]float32{{1, 0}, {0, 1}, {0, 0}, {0, 0}, {0, 0}, {0, 0}}},
		{3, [][2]float32{{1, 0}, {1, 0}, {0, 1}, {0, 1}, {0, 0}, {0, 0}}},
		{5, [][2]float32{{1, 0}, {1, 0}, {1, 0}, {1, 0}, {0, 1}, {0, 1}}},
	}
	ao, fo := learnOutputs()
	cfg := tinyConfig()
	m, err := New(cfg, ao, fo, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	const L = 5
	for _, tc := range cases {
		s := &tensor.Set{N: 1, L: L, AttrOutputs: ao, FeatOutputs: fo, Attributes: []float32{1, 0, 0},
			Features: make([]float32, L), GenFlags: make([]float32, L)}
		for i := range s.Features {
			s.Features[i] = 0.5 // also in padding, which must come out zero
		}
		for i := 0; i < tc.len; i++ {
			s.GenFlags[i] = 1
		}
		p, err := m.prepare(s)
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]float32
		var feat []float32
		for r := 0; r < 6; r++ {
			got = append(got, [2]float32{p.feat[r*3+1], p.feat[r*3+2]})
			feat = append(feat, p.feat[r*3])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("length %d: flags %v, want %v", tc.len, got, tc.want)
		}
		for r, v := range feat {
			if want := float32(0); r < tc.len {
				want = 0.5
				if v != want {
					t.Errorf("length %d: record %d feature %g, want %g", tc.len, r, v, want)
				}
			} else if v != 0 {
				t.Errorf("length %d: padding record %d feature %g, want 0", tc.len, r, v)
			}
		}
	}
}

// TestGeneratorMasks: the training mask zeroes whole S-blocks after the
// block holding the first end flag; valid stops right after the end record.
// A record's flags are zero where the mask is, its features where valid
// is, and a FirstUnused feature on the first record.
func TestGeneratorMasks(t *testing.T) {
	cases := []struct {
		endAt     int // record within each step whose flag says "end"
		mask, val []float32
	}{
		{0, []float32{1, 1, 0, 0, 0, 0}, []float32{1, 0, 0, 0, 0, 0}},
		{1, []float32{1, 1, 0, 0, 0, 0}, []float32{1, 1, 0, 0, 0, 0}},
		{-1, []float32{1, 1, 1, 1, 1, 1}, []float32{1, 1, 1, 1, 1, 1}},
	}
	for _, tc := range cases {
		for _, unused := range []bool{false, true} {
			ao, fo := learnOutputs()
			fo = append(fo, tensor.Output{Name: "iat", Width: 1, Kind: tensor.Continuous, Activation: tensor.Sigmoid, FirstUnused: unused})
			cfg := tinyConfig() // S = 2
			g := newGenerator[float64](cfg, ao, fo, 6, 0)
			// zero weights: every step emits the head biases, which set the flags
			for i := 0; i < g.S; i++ {
				g.featHead.b.w[i*g.F] = 1
				g.featHead.b.w[i*g.F+1] = 1
				g.featHead.b.w[i*g.F+g.D] = 1 // continue
				if i == tc.endAt {
					g.featHead.b.w[i*g.F+g.D+1] = 2 // end
				}
			}
			var nz genNoise[float64]
			g.drawNoise(1, rand.New(rand.NewPCG(1, 1)), &nz, false)
			g.forwardFeat([]float64{1, 0, 0}, &nz)
			mask, val := make([]float32, 6), make([]float32, 6)
			for i := range mask {
				mask[i], val[i] = float32(g.cache.mask[i]), float32(g.cache.valid[i])
			}
			if !slices.Equal(mask, tc.mask) || !slices.Equal(val, tc.val) {
				t.Errorf("end at %d: mask %v valid %v, want %v %v", tc.endAt, mask, val, tc.mask, tc.val)
			}
			for r := 0; r < 6; r++ {
				for j := 0; j < g.F; j++ {
					want := tc.mask[r] != 0
					if j < g.D {
						want = tc.val[r] != 0 && !(unused && r == 0 && j == 1)
					}
					if got := g.cache.feat[r*g.F+j]; (got != 0) != want {
						t.Errorf("end at %d, first unused %v: record %d value %d = %g, want nonzero %v", tc.endAt, unused, r, j, got, want)
					}
				}
			}
		}
	}
}
