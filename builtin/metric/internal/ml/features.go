package ml

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/netshare/netshare/abi"
)

// Features turns record columns into feature rows: numbers as they are,
// IPv4 addresses as four octets (an address as one number puts 9.255.255.255
// next to 10.0.0.0), string columns as their dictionary string's code in
// a table shared by both sides, and the columns named in log through
// sign(x)·ln(1+|x|) so that heavy-tailed sizes and durations do not crush
// the linear models.
type Features struct {
	cols  []string
	types []abi.Type
	log   []bool
	// Names are the expanded feature names, one per value of a row.
	Names []string
	codes map[string]float64
	bound []*abi.Column
}

// NewFeatures picks the feature columns from the first batch b. When
// explicit is false, wanted columns that b lacks are skipped (defaults
// that fit several record kinds); when true they are an error.
func NewFeatures(b *abi.Batch, wanted []string, explicit bool, logCols []string) (*Features, error) {
	f := &Features{codes: map[string]float64{}}
	isLog := map[string]bool{}
	for _, c := range logCols {
		isLog[c] = true
	}
	for _, name := range wanted {
		c := b.Column(name)
		if c == nil {
			if explicit {
				return nil, fmt.Errorf("feature column %q is not in the records (they have: %s)", name, columnNames(b))
			}
			continue
		}
		f.cols = append(f.cols, name)
		f.types = append(f.types, c.Type)
		f.log = append(f.log, isLog[name])
		if c.Type == abi.TypeIPv4 {
			for o := 1; o <= 4; o++ {
				f.Names = append(f.Names, fmt.Sprintf("%s.%d", name, o))
			}
		} else {
			f.Names = append(f.Names, name)
		}
	}
	if len(f.Names) == 0 {
		return nil, fmt.Errorf("none of the feature columns %s is in the records (they have: %s)", strings.Join(wanted, ", "), columnNames(b))
	}
	f.bound = make([]*abi.Column, len(f.cols))
	return f, nil
}

// D is the number of values per row.
func (f *Features) D() int { return len(f.Names) }

// Bind resolves the feature columns of b, which must have them with the
// types of the first batch; label says which batch it is for errors.
func (f *Features) Bind(b *abi.Batch, label string) error {
	for i, name := range f.cols {
		c := b.Column(name)
		if c == nil {
			return fmt.Errorf("%s has no feature column %q (it has: %s)", label, name, columnNames(b))
		}
		if c.Type != f.types[i] {
			return fmt.Errorf("%s: feature column %q is %s, the first batch had %s", label, name, c.Type, f.types[i])
		}
		f.bound[i] = c
	}
	return nil
}

// Append appends row r of the bound batch to dst. A NaN or ±Inf value is
// an error naming the column and row.
func (f *Features) Append(dst []float64, r int, label string) ([]float64, error) {
	for i, c := range f.bound {
		switch c.Type {
		case abi.TypeIPv4:
			v := c.U32[r]
			dst = append(dst, float64(v>>24), float64(v>>16&0xff), float64(v>>8&0xff), float64(v&0xff))
			continue
		case abi.TypeString:
			s := c.Dict[c.Codes[r]]
			code, ok := f.codes[s]
			if !ok {
				code = float64(len(f.codes))
				f.codes[s] = code
			}
			dst = append(dst, code)
			continue
		}
		v := c.Float(r)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return dst, fmt.Errorf("%s row %d: feature column %q is %v", label, r, c.Name, v)
		}
		if f.log[i] {
			v = math.Copysign(math.Log1p(math.Abs(v)), v)
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func columnNames(b *abi.Batch) string {
	names := make([]string, len(b.Columns))
	for i := range b.Columns {
		names[i] = b.Columns[i].Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Reservoir keeps a uniform seeded sample of at most Cap rows of D values
// (plus one int32 tag per row) from a stream of any length: the bound on
// work every metric here promises. Given the same rows in the same order
// it keeps the same sample.
type Reservoir struct {
	Cap, D int
	X      []float64
	Tag    []int32
	Seen   int
	rng    *rand.Rand
}

// NewReservoir returns an empty reservoir.
func NewReservoir(capacity, d int, seed uint64) *Reservoir {
	return &Reservoir{Cap: capacity, D: d, rng: NewRand(seed)}
}

// Add offers one row; row is copied.
func (s *Reservoir) Add(row []float64, tag int32) {
	s.Seen++
	if len(s.Tag) < s.Cap {
		s.X = append(s.X, row...)
		s.Tag = append(s.Tag, tag)
		return
	}
	if j := s.rng.IntN(s.Seen); j < s.Cap {
		copy(s.X[j*s.D:(j+1)*s.D], row)
		s.Tag[j] = tag
	}
}

// Len is the number of rows kept.
func (s *Reservoir) Len() int { return len(s.Tag) }
