// Package rank is the rank encoder for integer columns with many distinct
// values that carry no order of their own to learn, such as ports: each
// popular value (package popular) gets a category of its own, and every
// other value becomes one scalar, its position in the fitted values'
// distribution (its mid-rank), decoded back through that distribution to a
// value the field itself held.
//
// Why not the word2vec embedding for these values (docs/encoders.md,
// "rank"): a value seen in fewer than min_flows flows occurs in a handful
// of sentences, so its embedding is close to its random start and carries
// no co-occurrence to learn. The generator then has to place thousands of
// such points in 10 dimensions, and it concentrates on a few: on a SYN
// flood with 11,135 distinct source ports the synthetic trace held 2,958.
// A rank is one number whose real distribution is close to uniform by
// construction (each value's share of [0, 1] is its share of the
// records), an easy
// target for a scalar head, and its decode cannot leave the field's own
// values.
package rank

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/internal/fmath"
	"github.com/netshare/netshare/builtin/encoder/internal/popular"
	"github.com/netshare/netshare/sdk"
)

// Name is the encoder's registered name.
const Name = "rank"

// MaxValues bounds the distinct values fit keeps (24 MiB at most for the
// counts): every u16 column fits many times over, and a wider column with
// more distinct values than this is a continuous quantity (mixed).
const MaxValues = 1 << 20

// popularValue is the scalar a popular row encodes to: the decode ignores
// it, and a constant is the easiest target for the generator.
const popularValue = 0.5

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    Name,
		Version: "1.0.0",
		Summary: "popular values as categories, every other value as its rank among the field's fitted values; decode by that rank to a value the field held",
		Params: []abi.Param{
			{Name: "min_flows", Type: abi.ParamInt, Default: int64(5), Doc: "a value seen in at least this many distinct flows gets a category of its own (0: ranks only)"},
			{Name: "max_popular", Type: abi.ParamInt, Default: int64(256), Doc: "at most this many such categories, the most common values"},
			{Name: "heavy", Type: abi.ParamBool, Default: true, Doc: "values in fewer than min_flows flows that hold min_flows times the records per flow of such values (a port one long flow held) share one category and are ranked among themselves"},
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: fitting is refused, since the decode table is the data's own values; a state fitted on a public trace still loads"},
		},
	}, New)
}

// Encoder is the rank encoder for one column.
type Encoder struct {
	column   string
	minFlows int
	max      int
	heavy    bool
	private  bool // fitting refused; a public state still loads

	// Fit.
	typ   abi.Type
	typed bool
	pop   *popular.Counter // nil: no categories
	rows  map[int64]int64  // value → records holding it

	// Loaded.
	st      state
	loaded  bool
	popIdx  map[int64]uint32
	tables  [2]table // heavyTable, otherTable
	cats    [2]int   // each table's category; -1: none, or no softmax
	hot, vw int
	out     abi.Batch
}

// The two rank tables: the heavy values, and every other value without a
// category of its own.
const (
	heavyTable = iota
	otherTable
)

// table is one rank table: value i owns the slice [cum[i], cum[i+1]) of
// [0, 1], cum[i] the weight of vals[:i], normalised so cum[n] = 1. The
// other values are in ascending order; the heavy ones by their records,
// then by value, with idx to find them.
type table struct {
	vals []int64
	cum  []float64
	idx  map[int64]int
}

// state is the fitted state. Values and Weights are the values without a
// category, ascending, and the records each was seen in; Heavy and
// HeavyWeights the same for the heavy values, ordered by their records
// (then by value), so that a heavy value's rank grows with how long its
// flow is (docs/encoders.md, rank). Each is a table.
type state struct {
	Type         string  `json:"type"`
	Popular      []int64 `json:"popular,omitempty"`
	Heavy        []int64 `json:"heavy,omitempty"`
	HeavyWeights []int64 `json:"heavy_weights,omitempty"`
	Values       []int64 `json:"values,omitempty"`
	Weights      []int64 `json:"weights,omitempty"`
}

// New returns a rank encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	if env.Column == "" {
		return nil, fmt.Errorf("rank: no column named")
	}
	e := &Encoder{
		column:   env.Column,
		private:  env.Params.Bool(abi.ParamPrivate),
		minFlows: int(env.Params.Int("min_flows")),
		max:      int(env.Params.Int("max_popular")),
		heavy:    env.Params.Bool("heavy"),
		rows:     map[int64]int64{},
	}
	if e.minFlows < 0 || e.max < 0 {
		return nil, fmt.Errorf("rank %s: min_flows %d and max_popular %d must not be negative", e.column, e.minFlows, e.max)
	}
	if e.minFlows > 0 && e.max > 0 {
		e.pop = popular.NewCounter(e.column, e.minFlows, e.heavy)
	}
	return e, nil
}

func (e *Encoder) col(b *abi.Batch) (*abi.Column, error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, fmt.Errorf("rank %s: batch has no column %q", e.column, e.column)
	}
	switch c.Type {
	case abi.TypeU8, abi.TypeU16, abi.TypeU32, abi.TypeI64:
		return c, nil
	}
	return nil, fmt.Errorf("rank %s: column is %s, want an integer column (u8, u16, u32 or i64)", e.column, c.Type)
}

// Fit counts each value's records and, through the popular counter, finds
// the values that get a category. Records, not flows: the records metrics
// score, and the pipeline's fit batches carry no flow index (sdk.FieldEncoder).
func (e *Encoder) Fit(b *abi.Batch) error {
	if e.private {
		return fmt.Errorf("rank %s: cannot be fitted under differential privacy: its decode table is the data's own values (take the field's state from a public run, privacy.pretrained)", e.column)
	}
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if e.typed && c.Type != e.typ {
		return fmt.Errorf("rank %s: column type changed from %s to %s between fit batches", e.column, e.typ, c.Type)
	}
	e.typ, e.typed = c.Type, true
	if e.pop != nil {
		e.pop.Add(b, func(r int) uint64 { return uint64(c.Int(r)) })
	}
	for r := range c.Len() {
		v := c.Int(r)
		if _, ok := e.rows[v]; !ok && len(e.rows) >= MaxValues {
			return fmt.Errorf("rank %s: more than %d distinct values (row %d of the fit batch): a column this varied is a quantity, use mixed", e.column, MaxValues, r)
		}
		e.rows[v]++
	}
	return nil
}

// FitEnd returns the popular values and the others with their weights.
func (e *Encoder) FitEnd() ([]byte, error) {
	if !e.typed || len(e.rows) == 0 {
		return nil, fmt.Errorf("rank %s: fit saw no data", e.column)
	}
	st := state{Type: e.typ.String()}
	taken := map[int64]bool{}
	if e.pop != nil {
		for _, v := range e.pop.Popular(e.max) {
			st.Popular = append(st.Popular, int64(v))
			taken[int64(v)] = true
		}
		for _, v := range e.pop.Heavy() {
			if _, ok := e.rows[int64(v)]; ok {
				st.Heavy = append(st.Heavy, int64(v))
				taken[int64(v)] = true
			}
		}
	}
	slices.SortFunc(st.Heavy, func(a, b int64) int {
		if d := cmp.Compare(e.rows[a], e.rows[b]); d != 0 {
			return d
		}
		return cmp.Compare(a, b)
	})
	for _, v := range st.Heavy {
		st.HeavyWeights = append(st.HeavyWeights, e.rows[v])
	}
	for v := range e.rows {
		if !taken[v] {
			st.Values = append(st.Values, v)
		}
	}
	slices.Sort(st.Values)
	st.Weights = make([]int64, len(st.Values))
	for i, v := range st.Values {
		st.Weights[i] = e.rows[v]
	}
	return json.Marshal(st)
}

// Load restores a state: a softmax over the popular values, one category
// for the heavy values and one for "any other" when there is more than one
// choice, and the rank scalar when there is a table.
func (e *Encoder) Load(raw []byte) ([]abi.Output, error) {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("rank %s: bad state: %w", e.column, err)
	}
	typ, ok := abi.ParseType(st.Type)
	if !ok {
		return nil, fmt.Errorf("rank %s: state names column type %q", e.column, st.Type)
	}
	switch typ {
	case abi.TypeU8, abi.TypeU16, abi.TypeU32, abi.TypeI64:
	default:
		return nil, fmt.Errorf("rank %s: state names column type %s, want an integer type", e.column, typ)
	}
	if len(st.Values) != len(st.Weights) {
		return nil, fmt.Errorf("rank %s: bad state: %d values and %d weights", e.column, len(st.Values), len(st.Weights))
	}
	if len(st.Heavy) != len(st.HeavyWeights) {
		return nil, fmt.Errorf("rank %s: bad state: %d heavy values and %d weights", e.column, len(st.Heavy), len(st.HeavyWeights))
	}
	if len(st.Values)+len(st.Heavy)+len(st.Popular) == 0 {
		return nil, fmt.Errorf("rank %s: bad state: no values", e.column)
	}
	// Every value must fit the column it decodes into: the column's own
	// writer says so.
	probe := abi.Column{Type: typ}
	fits := func(v int64) error {
		probe.Truncate(0)
		return probe.AppendInt(v)
	}
	popIdx := make(map[int64]uint32, len(st.Popular))
	for k, v := range st.Popular {
		if err := fits(v); err != nil {
			return nil, fmt.Errorf("rank %s: bad state: popular value: %w", e.column, err)
		}
		if _, dup := popIdx[v]; dup {
			return nil, fmt.Errorf("rank %s: bad state: popular value %d listed twice", e.column, v)
		}
		popIdx[v] = uint32(k)
	}
	var tables [2]table
	heavy := map[int64]bool{}
	for t, tv := range [2]struct {
		what      string
		vals, wts []int64
	}{{"heavy value", st.Heavy, st.HeavyWeights}, {"value", st.Values, st.Weights}} {
		var total float64
		for i, v := range tv.vals {
			if err := fits(v); err != nil {
				return nil, fmt.Errorf("rank %s: bad state: %s: %w", e.column, tv.what, err)
			}
			if i > 0 && t == otherTable && v <= tv.vals[i-1] {
				return nil, fmt.Errorf("rank %s: bad state: values not strictly ascending at %d", e.column, i)
			}
			if i > 0 && t == heavyTable && (tv.wts[i] < tv.wts[i-1] || tv.wts[i] == tv.wts[i-1] && v <= tv.vals[i-1]) {
				return nil, fmt.Errorf("rank %s: bad state: heavy values not in order of weight, then value, at %d", e.column, i)
			}
			if _, dup := popIdx[v]; dup {
				return nil, fmt.Errorf("rank %s: bad state: %s %d is also popular", e.column, tv.what, v)
			}
			if heavy[v] {
				if t == heavyTable {
					return nil, fmt.Errorf("rank %s: bad state: heavy value %d listed twice", e.column, v)
				}
				return nil, fmt.Errorf("rank %s: bad state: value %d is also heavy", e.column, v)
			}
			if t == heavyTable {
				heavy[v] = true
			}
			if tv.wts[i] <= 0 {
				return nil, fmt.Errorf("rank %s: bad state: %s %d has weight %d", e.column, tv.what, v, tv.wts[i])
			}
			total += float64(tv.wts[i])
		}
		if len(tv.vals) == 0 {
			continue
		}
		cum := make([]float64, len(tv.vals)+1)
		var run float64
		for i, w := range tv.wts {
			run += float64(w)
			cum[i+1] = run / total
		}
		tables[t] = table{vals: tv.vals, cum: cum}
		if t == heavyTable {
			tables[t].idx = make(map[int64]int, len(tv.vals))
			for i, v := range tv.vals {
				tables[t].idx[v] = i
			}
		}
	}
	e.st, e.popIdx, e.tables, e.typ, e.loaded = st, popIdx, tables, typ, true
	// The categories: the popular values, then one per table that has
	// values; a softmax when there are popular values or both tables.
	cats := len(st.Popular)
	e.cats = [2]int{-1, -1}
	for t := range tables {
		if len(tables[t].vals) > 0 {
			e.cats[t] = cats
			cats++
		}
	}
	var outs []abi.Output
	e.hot, e.vw = 0, 0
	if len(st.Popular) > 0 || cats > 1 {
		outs = append(outs, abi.Output{Name: e.column + ".popular", Width: cats, Discrete: true, Activation: abi.ActSoftmax})
		e.hot = 1
	} else {
		e.cats = [2]int{-1, -1}
	}
	if len(tables[heavyTable].vals)+len(tables[otherTable].vals) > 0 {
		outs = append(outs, abi.Output{Name: e.column + ".rank", Width: 1, Activation: abi.ActSigmoid})
		e.vw = 1
	}
	return outs, nil
}

// onlyTable is the one table with values when there is no softmax to
// choose between them.
func (e *Encoder) onlyTable() int {
	if len(e.tables[otherTable].vals) > 0 {
		return otherTable
	}
	return heavyTable
}

// Encode writes each row's category and rank. A value not seen at fit
// encodes as the nearest value without a category (ties to the lower),
// among the other values, or the heavy ones when there are no others.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	if !e.loaded {
		return fmt.Errorf("rank %s: encode before load", e.column)
	}
	c, err := e.col(b)
	if err != nil {
		return err
	}
	n := c.Len()
	if out.HotWidth != e.hot || out.ValueWidth != e.vw || len(out.Hot) != n*e.hot || len(out.Values) != n*e.vw {
		return fmt.Errorf("rank %s: encode into %d indices and %d values, want %d rows × (%d, %d)", e.column, len(out.Hot), len(out.Values), n, e.hot, e.vw)
	}
	for r := range n {
		v := c.Int(r)
		if k, ok := e.popIdx[v]; ok {
			out.Hot[r*e.hot] = k
			if e.vw > 0 {
				out.Values[r] = popularValue
			}
			continue
		}
		if e.vw == 0 {
			// Every fitted value is popular: the nearest one stands in.
			out.Hot[r] = e.nearestPopular(v)
			continue
		}
		t := e.onlyTable()
		i, heavy := e.tables[heavyTable].idx[v]
		switch {
		case heavy:
			t = heavyTable
		case t == otherTable:
			i = nearest(e.tables[t].vals, v)
		default:
			i = nearestAny(e.tables[t].vals, v)
		}
		if e.hot > 0 {
			out.Hot[r] = uint32(e.cats[t])
		}
		tb := &e.tables[t]
		out.Values[r] = (tb.cum[i] + tb.cum[i+1]) / 2
	}
	return nil
}

// nearest returns the index in the ascending vals of the value closest
// to v, the lower on ties.
func nearest(vals []int64, v int64) int {
	i, found := slices.BinarySearch(vals, v)
	switch {
	case found || i == 0:
		return i
	case i == len(vals):
		return i - 1
	case uint64(v-vals[i-1]) <= uint64(vals[i]-v):
		return i - 1
	}
	return i
}

// nearestAny returns the index of the value in vals, in any order,
// closest to v, the lower value on ties.
func nearestAny(vals []int64, v int64) int {
	best := 0
	for i, x := range vals {
		d, bd := absDiff(v, x), absDiff(v, vals[best])
		if d < bd || (d == bd && x < vals[best]) {
			best = i
		}
	}
	return best
}

func absDiff(a, b int64) uint64 {
	if a < b {
		return uint64(b - a)
	}
	return uint64(a - b)
}

func (e *Encoder) nearestPopular(v int64) uint32 {
	return uint32(nearestAny(e.st.Popular, v))
}

// Decode maps each row's category, or its rank through its table's
// cumulative weights, back to a value.
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if !e.loaded {
		return nil, fmt.Errorf("rank %s: decode before load", e.column)
	}
	if in.HotWidth != e.hot || in.ValueWidth != e.vw || len(in.Hot) != in.Rows*e.hot || len(in.Values) != in.Rows*e.vw {
		return nil, fmt.Errorf("rank %s: decode wants %d rows of (%d, %d), got %d indices and %d values", e.column, in.Rows, e.hot, e.vw, len(in.Hot), len(in.Values))
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	*col = abi.Column{Name: e.column, Type: e.typ, U8: col.U8[:0], U16: col.U16[:0], U32: col.U32[:0], I64: col.I64[:0]}
	pop := e.st.Popular
	width := len(pop)
	for _, k := range e.cats {
		if k >= 0 {
			width++
		}
	}
	for r := range in.Rows {
		if e.hot > 0 && int(in.Hot[r]) >= width {
			return nil, fmt.Errorf("rank %s: row %d: index %d is outside the %d categories", e.column, r, in.Hot[r], width)
		}
		var v int64
		if e.hot > 0 && int(in.Hot[r]) < len(pop) {
			v = pop[in.Hot[r]]
		} else {
			t := e.onlyTable()
			if e.hot > 0 && int(in.Hot[r]) == e.cats[heavyTable] {
				t = heavyTable
			} else if e.hot > 0 {
				t = otherTable
			}
			// The value whose slice holds u: the first i with cum[i+1] > u.
			tb := &e.tables[t]
			u := fmath.Clamp01(in.Values[r])
			last := len(tb.vals) - 1
			i := sort.Search(last, func(i int) bool { return tb.cum[i+1] > u })
			v = tb.vals[i]
		}
		if err := col.AppendInt(v); err != nil {
			return nil, fmt.Errorf("rank %s: row %d: %w", e.column, r, err)
		}
	}
	return &e.out, nil
}
