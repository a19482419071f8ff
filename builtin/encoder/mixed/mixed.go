// Package mixed is the mode-specific encoder for numeric columns whose
// distribution has spikes (exact values that carry a large share of the
// records: packet lengths of 40, 52 or 1500 bytes, flows of one packet or
// of zero duration) beside a spread-out rest. A value becomes a one-hot
// mode plus a scalar within the mode, after CTGAN's mode-specific
// normalisation (Xu et al., NeurIPS 2019) and CTAB-GAN's mixed type (Zhao
// et al., ACML 2021), whose categorical modes are exact values. The modes
// come from the data (docs/encoders.md, "mixed"):
//
//   - With n records, K = ⌈log₂ n⌉ + 1 (Sturges' number of histogram bins
//     for n samples) bounds the modes a sample of that size supports.
//   - A value holding at least 1/K of the records, a whole bin's share,
//     is a spike: its own mode, decoded exactly.
//   - The other values are cut at their quantiles into ⌈K·rest⌉ modes of
//     equal mass (rest: their share). Within a mode the scalar is the
//     value's quantile in that mode: the mode keeps Kₘ + 1 quantiles of its
//     own values (Kₘ by Sturges' rule for the mode's count) and maps
//     between them piecewise linearly, so real scalars are uniform on
//     [0, 1] whatever the shape inside the mode. Min-max scaling there
//     made a heavy tail's top mode (flow bytes from 10⁴ to 10⁹) decode
//     generator error near the top into huge values (docs/fidelity.md).
//   - Without a spike ("auto") the column is one range mode, with no mode
//     output: its scalar is the value's quantile in the whole column. With
//     fixed bounds (min and max) it is the continuous encoder's min-max
//     scaling.
//
// Decode takes the argmax mode: a spike writes its value, a range mode
// maps the scalar back through its quantiles, rounds integers and clamps
// to the values the mode held at fit.
package mixed

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/internal/fmath"
	"github.com/netshare/netshare/sdk"
)

// Name is the encoder's registered name.
const Name = "mixed"

// Mode settings.
const (
	ModesAuto   = "auto"   // modes only when the column has a spike
	ModesAlways = "always" // quantile modes even without a spike
)

// reservoirSize bounds the values fit keeps (512 KiB): quantiles and spike
// shares from a uniform sample of this size are within about 0.2 % of
// the full data's, far below the smallest spike share (1/K ≥ 1/65 for
// any n below 2⁶⁴), and every record is kept below that size.
const reservoirSize = 1 << 16

// spikeValue is the scalar a spike mode encodes to: the decode ignores
// it, and a constant is the easiest target for the generator.
const spikeValue = 0.5

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    Name,
		Version: "1.0.0",
		Summary: "mode-specific normalisation: exact values holding a large share (spikes) as one-hot modes, the rest in quantile modes scaled within each",
		Params: []abi.Param{
			{Name: "log1p", Type: abi.ParamBool, Default: false, Doc: "apply ln(1+x) before scaling within a mode; values must be > -1"},
			{Name: "modes", Type: abi.ParamString, Default: ModesAuto, Doc: `"auto": spikes and quantile modes when the data has a spike (a value holding at least 1/(⌈log2 n⌉+1) of the n records), else one min-max mode; "always": quantile modes even without a spike`},
			{Name: "min", Type: abi.ParamFloat, Doc: "with max: one mode over these fixed bounds, read nothing from the data (the continuous encoder's scaling; what privacy needs)"},
			{Name: "max", Type: abi.ParamFloat, Doc: "with min: see min"},
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: modes read from the data would leak it, so min and max must be given (or the field's state taken from privacy.pretrained)"},
		},
	}, New)
}

// Encoder is the mixed encoder for one column.
type Encoder struct {
	column string
	log1p  bool
	modes  string
	fixed  *[2]float64 // min and max params

	// Fit.
	typ      abi.Type
	typed    bool
	rows     int64
	sample   []float64
	rng      *rand.Rand
	min, max float64

	// Loaded.
	st     state
	ok     bool
	scales []scale
	out    abi.Batch
}

// state is the fitted state: the spikes, then the range modes, in the
// column's units (before log1p), both in increasing order. The modes'
// one-hot order is the spikes', then the ranges'. A range may span a
// spike (the rest's values on both sides of it): the spike's value
// encodes to the spike's mode, and a range decoding to it is harmless.
type state struct {
	Type   string       `json:"type"`
	Log1p  bool         `json:"log1p"`
	Spikes []float64    `json:"spikes,omitempty"`
	Ranges [][2]float64 `json:"ranges,omitempty"` // [lowest, highest] value of each range mode
	// Quantiles of each range mode's values, lowest to highest (the first
	// and last are the range's bounds). Absent (fixed bounds, or a state
	// written before them): min-max scaling within the range.
	Quantiles [][]float64 `json:"quantiles,omitempty"`
}

// scale is one range mode's scaling on the transformed scale: the knots
// k₀ ≤ … ≤ k_Q, Q ≥ 1 (Load makes at least two), map to 0, 1/Q, …, 1,
// linearly between them (min-max scaling is Q = 1). Integer modes are widened by half a unit each side so
// that every integer gets a whole rounding cell.
type scale struct {
	knots  []float64
	lo, hi float64 // the clamp of decoded values, in the column's units
}

// unit maps t (transformed scale) to [0, 1]. A t on a run of equal knots
// (a value holding several quantiles) maps to the run's middle, so that
// the run's share of [0, 1] decodes back to it.
func (s *scale) unit(t float64) float64 {
	k := s.knots
	q := len(k) - 1
	if k[q] == k[0] {
		return spikeValue
	}
	if t <= k[0] {
		return 0
	}
	if t >= k[q] {
		return 1
	}
	i, found := slices.BinarySearch(k, t) // first knot ≥ t
	if found {
		j := i
		for j < q && k[j+1] == t {
			j++
		}
		return float64(i+j) / 2 / float64(q)
	}
	// k[i-1] < t < k[i]
	return (float64(i-1) + (t-k[i-1])/(k[i]-k[i-1])) / float64(q)
}

// at is the inverse of unit: the transformed value at u in [0, 1].
func (s *scale) at(u float64) float64 {
	k := s.knots
	q := len(k) - 1
	f := fmath.Clamp01(u) * float64(q)
	i := min(int(f), q-1)
	return k[i] + (f-float64(i))*(k[i+1]-k[i])
}

// New returns a mixed encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	if env.Column == "" {
		return nil, fmt.Errorf("mixed: no column named")
	}
	e := &Encoder{
		column: env.Column,
		log1p:  env.Params.Bool("log1p"),
		modes:  env.Params.String("modes"),
		rng:    rand.New(rand.NewPCG(uint64(env.Seed), 0x6d69786564)),
		min:    math.Inf(1),
		max:    math.Inf(-1),
	}
	if e.modes != ModesAuto && e.modes != ModesAlways {
		return nil, fmt.Errorf("mixed %s: modes must be %q or %q, got %q", e.column, ModesAuto, ModesAlways, e.modes)
	}
	hasMin, hasMax := env.Params.Has("min"), env.Params.Has("max")
	if hasMin != hasMax {
		return nil, fmt.Errorf("mixed %s: give min and max together (one fixed mode), or neither", e.column)
	}
	if hasMin {
		lo, hi := env.Params.Float("min"), env.Params.Float("max")
		if math.IsNaN(lo) || math.IsInf(lo, 0) || math.IsNaN(hi) || math.IsInf(hi, 0) || !(lo < hi) {
			return nil, fmt.Errorf("mixed %s: bounds [%v, %v] must be finite with min below max", e.column, lo, hi)
		}
		if e.log1p && lo <= -1 {
			return nil, fmt.Errorf("mixed %s: min %v is not above -1, which log1p needs", e.column, lo)
		}
		e.fixed = &[2]float64{lo, hi}
	}
	if env.Params.Bool(abi.ParamPrivate) && e.fixed == nil {
		return nil, fmt.Errorf("mixed %s: private = true: modes read from private data leak it; give fixed min and max (one mode, as the continuous encoder), or take the field's state from a public run with privacy.pretrained", e.column)
	}
	return e, nil
}

func numeric(t abi.Type) bool {
	switch t {
	case abi.TypeU8, abi.TypeU16, abi.TypeU32, abi.TypeIPv4, abi.TypeI64, abi.TypeTime, abi.TypeF64:
		return true
	}
	return false
}

// typeRange is the range of values a column type can hold; floats are
// unbounded.
func typeRange(t abi.Type) (lo, hi float64) {
	switch t {
	case abi.TypeU8:
		return 0, math.MaxUint8
	case abi.TypeU16:
		return 0, math.MaxUint16
	case abi.TypeU32, abi.TypeIPv4:
		return 0, math.MaxUint32
	case abi.TypeI64, abi.TypeTime:
		// ±2^63 is not representable exactly; stay one ulp inside.
		return -9.223372036854775e18, 9.223372036854775e18
	}
	return math.Inf(-1), math.Inf(1)
}

func (e *Encoder) col(b *abi.Batch) (*abi.Column, error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, fmt.Errorf("mixed %s: batch has no column %q", e.column, e.column)
	}
	if !numeric(c.Type) {
		return nil, fmt.Errorf("mixed %s: column is %s, want a numeric type", e.column, c.Type)
	}
	return c, nil
}

// Fit keeps a uniform sample of the values (all of them up to
// reservoirSize; Vitter's algorithm R beyond) and the extremes. With fixed
// bounds it reads only the column type.
func (e *Encoder) Fit(b *abi.Batch) error {
	c, err := e.col(b)
	if err != nil {
		return err
	}
	if e.typed && c.Type != e.typ {
		return fmt.Errorf("mixed %s: column type changed from %s to %s between fit batches", e.column, e.typ, c.Type)
	}
	e.typ, e.typed = c.Type, true
	if e.fixed != nil {
		return nil
	}
	n := c.Len()
	for i := 0; i < n; i++ {
		x := c.Float(i)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("mixed %s: row %d of the fit batch is %v", e.column, i, x)
		}
		if e.log1p && x <= -1 {
			return fmt.Errorf("mixed %s: row %d of the fit batch is %v; log1p needs values above -1", e.column, i, x)
		}
		e.min, e.max = min(e.min, x), max(e.max, x)
		if len(e.sample) < reservoirSize {
			e.sample = append(e.sample, x)
		} else if j := e.rng.Int64N(e.rows + 1); j < reservoirSize {
			e.sample[j] = x
		}
		e.rows++
	}
	return nil
}

// Bins is K = ⌈log₂ n⌉ + 1, Sturges' number of histogram bins for n
// samples: the modes n records support. A value holding at least 1/K of
// them is a spike.
func Bins(n int64) int {
	if n <= 1 {
		return 1
	}
	k := 1
	for v := n - 1; v > 0; v >>= 1 { // ⌈log₂ n⌉ = bit length of n-1
		k++
	}
	return k
}

// FitEnd chooses the modes (package comment).
func (e *Encoder) FitEnd() ([]byte, error) {
	if !e.typed {
		return nil, fmt.Errorf("mixed %s: fit saw no batch, so the column type is unknown", e.column)
	}
	st := state{Type: e.typ.String(), Log1p: e.log1p}
	if e.fixed != nil {
		st.Ranges = [][2]float64{*e.fixed}
		return json.Marshal(st)
	}
	if e.rows == 0 {
		return nil, fmt.Errorf("mixed %s: fit saw no rows and no min and max params are set", e.column)
	}
	st.Spikes, st.Ranges = Modes(e.sample, Bins(e.rows), e.modes == ModesAlways)
	st.Quantiles = Quantiles(e.sample, st.Ranges)
	// A sample of a larger column may miss its extremes: the outer range
	// modes (a spike at an extreme is its own mode already).
	if n := len(st.Ranges); n > 0 && e.rows > int64(len(e.sample)) {
		if _, spike := slices.BinarySearch(st.Spikes, e.min); !spike {
			st.Ranges[0][0] = min(st.Ranges[0][0], e.min)
			st.Quantiles[0][0] = st.Ranges[0][0]
		}
		if _, spike := slices.BinarySearch(st.Spikes, e.max); !spike {
			st.Ranges[n-1][1] = max(st.Ranges[n-1][1], e.max)
			q := st.Quantiles[n-1]
			q[len(q)-1] = st.Ranges[n-1][1]
		}
	}
	return json.Marshal(st)
}

// Modes splits a sample into spikes (values holding at least 1/k of it)
// and range modes: the other values cut at their quantiles into ⌈k·rest⌉
// groups of equal mass, never splitting equal values, or one group when
// there is no spike and always is false. It sorts xs.
func Modes(xs []float64, k int, always bool) (spikes []float64, ranges [][2]float64) {
	slices.Sort(xs)
	m := len(xs)
	rest := make([]float64, 0, m)
	for i := 0; i < m; {
		j := i + 1
		for j < m && xs[j] == xs[i] {
			j++
		}
		if (j-i)*k >= m {
			spikes = append(spikes, xs[i])
		} else {
			rest = append(rest, xs[i:j]...)
		}
		i = j
	}
	r := len(rest)
	if r == 0 {
		return spikes, nil
	}
	groups := 1
	if len(spikes) > 0 || always {
		groups = (r*k + m - 1) / m // ⌈k·r/m⌉
	}
	start := 0
	for g := 1; g <= groups && start < r; g++ {
		end := int(math.Round(float64(g) * float64(r) / float64(groups)))
		end = max(end, start+1)
		for end < r && rest[end] == rest[end-1] {
			end++
		}
		ranges = append(ranges, [2]float64{rest[start], rest[end-1]})
		start = end
	}
	return spikes, ranges
}

// Quantiles returns, for each range of a sorted sample, Kₘ + 1 of its
// values at equal steps of rank from lowest to highest (numpy's linear
// quantiles), Kₘ = Bins(values in the range): the resolution a sample of
// that size supports. Keeping every value instead (a uniform scalar then
// decodes to a draw from the mode's own values) measured worse
// (docs/fidelity.md, ablation).
func Quantiles(sorted []float64, ranges [][2]float64) [][]float64 {
	qs := make([][]float64, len(ranges))
	for i, r := range ranges {
		lo, _ := slices.BinarySearch(sorted, r[0])
		hi, _ := slices.BinarySearch(sorted, math.Nextafter(r[1], math.Inf(1)))
		vs := sorted[lo:hi]
		q := Bins(int64(len(vs)))
		ks := make([]float64, q+1)
		for j := range ks {
			pos := float64(j) * float64(len(vs)-1) / float64(q)
			a := int(pos)
			ks[j] = vs[a]
			if a+1 < len(vs) {
				ks[j] += (pos - float64(a)) * (vs[a+1] - vs[a])
			}
		}
		ks[0], ks[q] = r[0], r[1] // exact, whatever the rounding of pos: Load checks them
		qs[i] = ks
	}
	return qs
}

// Load checks the state and returns the outputs: the mode as a softmax
// when there is more than one, and the scalar within the mode.
func (e *Encoder) Load(raw []byte) ([]abi.Output, error) {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("mixed %s: bad state: %w", e.column, err)
	}
	typ, ok := abi.ParseType(st.Type)
	if !ok || !numeric(typ) {
		return nil, fmt.Errorf("mixed %s: state names column type %q", e.column, st.Type)
	}
	if len(st.Spikes)+len(st.Ranges) == 0 {
		return nil, fmt.Errorf("mixed %s: state has no modes", e.column)
	}
	tlo, thi := typeRange(typ)
	check := func(what string, x float64) error {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < tlo || x > thi || (typ.IsInt() && x != math.Trunc(x)) {
			return fmt.Errorf("mixed %s: state's %s %v is not a %s value", e.column, what, x, typ)
		}
		if st.Log1p && x <= -1 {
			return fmt.Errorf("mixed %s: state's %s %v is not above -1, which log1p needs", e.column, what, x)
		}
		return nil
	}
	for i, x := range st.Spikes {
		if err := check("spike", x); err != nil {
			return nil, err
		}
		if i > 0 && !(st.Spikes[i-1] < x) {
			return nil, fmt.Errorf("mixed %s: state's spikes are not increasing at %d", e.column, i)
		}
	}
	if st.Quantiles != nil && len(st.Quantiles) != len(st.Ranges) {
		return nil, fmt.Errorf("mixed %s: state has %d quantile lists for %d ranges", e.column, len(st.Quantiles), len(st.Ranges))
	}
	scales := make([]scale, len(st.Ranges))
	for i, r := range st.Ranges {
		for _, x := range r {
			if err := check("range bound", x); err != nil {
				return nil, err
			}
		}
		if !(r[0] <= r[1]) || (i > 0 && !(st.Ranges[i-1][1] < r[0])) {
			return nil, fmt.Errorf("mixed %s: state's range %d %v is empty or overlaps the one before", e.column, i, r)
		}
		knots := []float64{r[0], r[1]}
		if st.Quantiles != nil {
			knots = slices.Clone(st.Quantiles[i])
			if len(knots) < 2 || knots[0] != r[0] || knots[len(knots)-1] != r[1] || !slices.IsSorted(knots) {
				return nil, fmt.Errorf("mixed %s: state's quantiles of range %d %v do not run from its lowest to its highest value", e.column, i, r)
			}
		}
		if typ.IsInt() {
			// above -1 under log1p: integers above -1 are at least 0
			knots[0], knots[len(knots)-1] = knots[0]-0.5, knots[len(knots)-1]+0.5
		}
		if st.Log1p {
			for j, k := range knots {
				knots[j] = math.Log1p(k)
			}
		}
		scales[i] = scale{knots: knots, lo: r[0], hi: r[1]}
	}
	e.st, e.typ, e.scales, e.ok = st, typ, scales, true
	var outs []abi.Output
	if n := len(st.Spikes) + len(st.Ranges); n > 1 {
		outs = append(outs, abi.Output{Name: e.column + ".mode", Width: n, Discrete: true, Activation: abi.ActSoftmax})
	}
	return append(outs, abi.Output{Name: e.column + ".value", Width: 1, Activation: abi.ActSigmoid}), nil
}

// moded is whether the encoding carries a mode index.
func (e *Encoder) moded() bool { return len(e.st.Spikes)+len(e.st.Ranges) > 1 }

// mode returns x's mode and scalar. A value no mode holds (possible with
// fixed bounds, or a prior's state on other data) goes to the nearest
// mode, clamped into its range.
func (e *Encoder) mode(x float64) (int, float64) {
	sp := e.st.Spikes
	if i, found := slices.BinarySearch(sp, x); found {
		return i, spikeValue
	}
	rs := e.st.Ranges
	if len(rs) == 0 {
		// Only spikes: the nearest, ties to the lower.
		i, _ := slices.BinarySearch(sp, x)
		if i == len(sp) || (i > 0 && x-sp[i-1] <= sp[i]-x) {
			i--
		}
		return i, spikeValue
	}
	// The last range starting at or below x, or the next one when x lies
	// nearer to it.
	j, _ := slices.BinarySearchFunc(rs, x, func(r [2]float64, x float64) int {
		if r[0] <= x {
			return -1
		}
		return 1
	})
	j--
	if j < 0 || (j+1 < len(rs) && x > rs[j][1] && rs[j+1][0]-x < x-rs[j][1]) {
		j++
	}
	s := &e.scales[j]
	t := x
	if e.st.Log1p {
		t = math.Log1p(x)
	}
	return len(sp) + j, s.unit(t)
}

// Encode writes each value's mode and scalar.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	if !e.ok {
		return fmt.Errorf("mixed %s: encode before load", e.column)
	}
	c, err := e.col(b)
	if err != nil {
		return err
	}
	n := c.Len()
	moded := e.moded()
	for i := 0; i < n; i++ {
		x := c.Float(i)
		if math.IsNaN(x) || (e.st.Log1p && x <= -1) {
			return fmt.Errorf("mixed %s: row %d: cannot encode %v", e.column, i, x)
		}
		m, v := e.mode(x)
		if moded {
			out.Hot[i] = uint32(m)
		}
		out.Values[i] = v
	}
	return nil
}

// value is the decoded value of mode m with scalar v, in the column's
// units, rounded for integer columns.
func (e *Encoder) value(m int, v float64) float64 {
	if m < len(e.st.Spikes) {
		return e.st.Spikes[m]
	}
	s := &e.scales[m-len(e.st.Spikes)]
	x := s.at(v)
	if e.st.Log1p {
		x = math.Expm1(x)
	}
	// Clamping to the mode's own values keeps a decoded value in its mode
	// (and in the column type); the bounds are integers for integer
	// columns, so clamping before rounding is the same.
	x = min(max(x, s.lo), s.hi)
	if e.typ.IsInt() {
		x = fmath.Round(x)
	}
	return x
}

// Decode writes the value of each row's mode and scalar, in the column's
// type.
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if !e.ok {
		return nil, fmt.Errorf("mixed %s: decode before load", e.column)
	}
	hot := 0
	if e.moded() {
		hot = 1
	}
	if in.HotWidth != hot || in.ValueWidth != 1 || len(in.Values) != in.Rows || len(in.Hot) != in.Rows*hot {
		return nil, fmt.Errorf("mixed %s: decode wants %d rows of %d index and 1 value, got %d indices and %d values", e.column, in.Rows, hot, len(in.Hot), len(in.Values))
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	col.Name, col.Type = e.column, e.typ
	modes := len(e.st.Spikes) + len(e.st.Ranges)
	n := in.Rows
	switch e.typ {
	case abi.TypeF64:
		col.F64 = abi.Grow(col.F64, n)
	case abi.TypeU8:
		col.U8 = abi.Grow(col.U8, n)
	case abi.TypeU16:
		col.U16 = abi.Grow(col.U16, n)
	case abi.TypeU32, abi.TypeIPv4:
		col.U32 = abi.Grow(col.U32, n)
	case abi.TypeI64, abi.TypeTime:
		col.I64 = abi.Grow(col.I64, n)
	}
	for i := 0; i < n; i++ {
		m := 0
		if hot == 1 {
			m = int(in.Hot[i])
		}
		v := in.Values[i]
		if m >= modes {
			return nil, fmt.Errorf("mixed %s: row %d: mode %d of %d", e.column, i, m, modes)
		}
		if v != v {
			return nil, fmt.Errorf("mixed %s: row %d is NaN", e.column, i)
		}
		x := e.value(m, v)
		switch e.typ {
		case abi.TypeF64:
			col.F64[i] = x
		case abi.TypeU8:
			col.U8[i] = uint8(x)
		case abi.TypeU16:
			col.U16[i] = uint16(x)
		case abi.TypeU32, abi.TypeIPv4:
			col.U32[i] = uint32(x)
		case abi.TypeI64, abi.TypeTime:
			col.I64[i] = int64(x)
		}
	}
	return &e.out, nil
}
