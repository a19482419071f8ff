package word2vec

import "math"

// memo remembers the decoded token of every vector Encode emits, as the
// GAN's float32 tensor rounds it: a row that is exactly such a vector (a
// round trip of real records, or a generated vector that landed on a
// token) is answered by one hash probe instead of a tree search. The
// answers are the tree's exact ones, computed at Load on the same inputs,
// so the memo never changes an exact search's result (and under approx it
// answers exactly); anything else takes the search.
//
// The table is open-addressed and flat, one entry of dim+1 words a slot:
// the vector's float32 bits, then its tree position + 1 (0: empty). A
// probe touches one entry, which matters in the sandbox, where a cache
// miss and every extra step are dear.
type memo struct {
	dim   int
	tab   []uint32
	shift uint32
}

// newMemo builds the memo for the encoder's vocabulary (unit vectors, dim
// values each); decode is the search Decode runs on a row that misses.
func newMemo(vecs []float64, dim int, decode func(row []float64) (int32, error)) (*memo, error) {
	n := len(vecs) / dim
	bits := uint32(1)
	for 1<<bits < 2*n {
		bits++
	}
	m := &memo{dim: dim, tab: make([]uint32, (1<<bits)*(dim+1)), shift: 32 - bits}
	row := make([]float64, dim)
	key := make([]uint32, dim)
	for t := 0; t < n; t++ {
		for k := range row {
			f := float32(vecs[t*dim+k])
			row[k], key[k] = float64(f), math.Float32bits(f)
		}
		p, err := decode(row)
		if err != nil {
			return nil, err
		}
		m.insert(key, p)
	}
	return m, nil
}

// slot hashes the first two values' bits (enough to spread unit vectors;
// equal prefixes only lengthen a probe).
func (m *memo) slot(b0, b1 uint32) int {
	return int((b0*0x9E3779B1 ^ b1) * 0x85EBCA6B >> m.shift)
}

func (m *memo) insert(key []uint32, p int32) {
	w := m.dim + 1
	mask := len(m.tab)/w - 1
	b1 := uint32(0)
	if len(key) > 1 {
		b1 = key[1]
	}
	for s := m.slot(key[0], b1); ; s = (s + 1) & mask {
		e := m.tab[s*w : s*w+w]
		if e[m.dim] == 0 {
			copy(e, key)
			e[m.dim] = uint32(p) + 1
			return
		}
		if equalBits(e[:m.dim], key) {
			return // a duplicate vector: equal inputs have equal answers
		}
	}
}

func equalBits(a, b []uint32) bool {
	for k, x := range b {
		if a[k] != x {
			return false
		}
	}
	return true
}

// lookup returns the remembered tree position for row, or -1. A row hits
// only when every value is exactly the float32 number remembered: a
// float64 that float32 would round is another input.
func (m *memo) lookup(row []float64) int32 {
	d := m.dim
	w := d + 1
	mask := len(m.tab)/w - 1
	b1 := uint32(0)
	if d > 1 {
		b1 = math.Float32bits(float32(row[1]))
	}
	for s := m.slot(math.Float32bits(float32(row[0])), b1); ; s = (s + 1) & mask {
		e := m.tab[s*w : s*w+w : s*w+w]
		if e[d] == 0 {
			return -1
		}
		hit := true
		for k, x := range row[:d] {
			if float64(math.Float32frombits(e[k])) != x {
				hit = false
				break
			}
		}
		if hit {
			return int32(e[d] - 1)
		}
	}
}

// lookupAll10 is lookup over every row of ten values, writing each
// row's position or -1 to pos: one call a batch with the probe written
// out, since in the sandbox a call and a generic loop each cost several
// times the probe itself.
func (m *memo) lookupAll10(values []float64, pos []int32) {
	tab, shift := m.tab, m.shift
	mask := len(tab)/11 - 1
	for i := range pos {
		r := (*[10]float64)(values[i*10:])
		s := int((math.Float32bits(float32(r[0]))*0x9E3779B1 ^ math.Float32bits(float32(r[1]))) * 0x85EBCA6B >> shift)
		p := int32(-1)
		for {
			e := (*[11]uint32)(tab[s*11:])
			if e[10] == 0 {
				break
			}
			if float64(math.Float32frombits(e[0])) == r[0] && float64(math.Float32frombits(e[1])) == r[1] &&
				float64(math.Float32frombits(e[2])) == r[2] && float64(math.Float32frombits(e[3])) == r[3] &&
				float64(math.Float32frombits(e[4])) == r[4] && float64(math.Float32frombits(e[5])) == r[5] &&
				float64(math.Float32frombits(e[6])) == r[6] && float64(math.Float32frombits(e[7])) == r[7] &&
				float64(math.Float32frombits(e[8])) == r[8] && float64(math.Float32frombits(e[9])) == r[9] {
				p = int32(e[10] - 1)
				break
			}
			s = (s + 1) & mask
		}
		pos[i] = p
	}
}
