// Package time is the flow-time encoder (NetShare's timestamp field). In
// the default "interarrival" mode one field has two parts, each opened as
// its own instance with the same fitted state:
//
//   - part = "start": the flow's first timestamp, an attribute, scaled to
//     [0,1] over the chunk's span of flow starts;
//   - part = "iat": the interarrival time within the flow, a feature,
//     scaled to [0,1] over the chunk's minimum and maximum interarrival
//     (or fixed bounds under differential privacy), 0 for a flow's first
//     record.
//
// Decoding "start" gives absolute timestamps; decoding "iat" gives the
// interarrival durations in µs, and the host rebuilds each record's time
// as start + running sum (with the first interarrival taken as 0): only the
// host knows which generated rows belong to which flow. In "raw" mode the
// "iat" part carries the timestamp itself, scaled over the chunk's span,
// and the "start" part has no outputs.
//
// The state is per chunk: the host fits one state per chunk on that chunk's
// rows, grouped by flow in time order with the "_flow" column.
package time

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/internal/fmath"
	"github.com/netshare/netshare/sdk"
)

// Modes.
const (
	ModeInterarrival = "interarrival"
	ModeRaw          = "raw"
)

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    "time",
		Version: "1.0.0",
		Summary: "flow start (attribute) and interarrival within the flow (feature), or raw timestamps; per-chunk [0,1] scaling",
		Params: []abi.Param{
			{Name: "mode", Type: abi.ParamString, Default: ModeInterarrival, Doc: `"interarrival" (flow start + interarrival) or "raw" (the timestamp itself as the feature)`},
			{Name: abi.ParamPart, Type: abi.ParamString, Default: abi.PartIAT, Doc: `which part this instance serves: "start" (the attribute) or "iat" (the feature); the host opens both`},
			{Name: "iat_min", Type: abi.ParamFloat, Doc: "fixed lower interarrival bound in seconds (default: the chunk's minimum)"},
			{Name: "iat_max", Type: abi.ParamFloat, Doc: "fixed upper interarrival bound in seconds (default: the chunk's maximum); required when private"},
			{Name: abi.ParamSpanStart, Type: abi.ParamInt, Doc: "fixed lower time bound in µs since the epoch for starts and raw times (the host passes the chunk's start)"},
			{Name: abi.ParamSpanEnd, Type: abi.ParamInt, Doc: "fixed upper time bound in µs (the host passes the chunk's end)"},
			{Name: "start_bins", Type: abi.ParamInt, Default: int64(defaultStartBins), Doc: "equal parts of the span a flow start is placed in: the start is its part (a softmax) and its place there (a sigmoid); 0: one sigmoid over the span"},
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: every bound must then be fixed"},
		},
	}, New)
}

// defaultStartBins splits a chunk's span of flow starts in 16. One sigmoid
// over the whole span is the GAN's weak spot: on CAIDA it put the first
// tenth of the flows at 3.7 ms of a 24 ms trace instead of 1.8, and the
// last tenth at 18.2 ms instead of 21.0 (time EMD 16× its noise floor);
// proportions over bins are what a softmax head learns well. The count
// cannot follow the chunk's flows: every chunk's tensors must have the
// model's width, and under DP it would tell the flow count.
const defaultStartBins = 16

// Encoder is one part of the time encoder for one timestamp column.
type Encoder struct {
	column string
	mode   string
	part   string

	fixedIATMin, fixedIATMax *float64 // µs
	fixedSpan                *[2]int64
	startBins                int

	// Fit-time statistics.
	rows                 int64
	lastFlow             uint32
	lastTS               int64
	tsMin, tsMax         int64
	startMin, startMax   int64
	iatMin, iatMax       int64
	haveRows, haveStarts bool

	st  state
	ok  bool
	out abi.Batch // reused by every Decode
}

// state is one chunk's fitted bounds, in µs.
type state struct {
	Mode string `json:"mode"`
	// Lo and Hi bound the flow starts (interarrival mode) or every
	// timestamp (raw mode).
	Lo int64 `json:"lo"`
	Hi int64 `json:"hi"`
	// IATLo and IATHi bound the interarrival times (interarrival mode).
	IATLo float64 `json:"iat_lo"`
	IATHi float64 `json:"iat_hi"`
	// StartBins, when ≥ 2, splits [Lo, Hi] into that many equal bins: the
	// start is the bin (a softmax) and the place within it (a sigmoid).
	// 0 (and states of before it): one sigmoid over the span.
	StartBins int `json:"start_bins,omitempty"`
}

// New returns a time encoder part for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	if env.Column == "" {
		return nil, fmt.Errorf("time: no column named")
	}
	e := &Encoder{column: env.Column, mode: env.Params.String("mode"), part: env.Params.String(abi.ParamPart)}
	if e.mode != ModeInterarrival && e.mode != ModeRaw {
		return nil, fmt.Errorf("time %s: mode must be %q or %q, got %q", e.column, ModeInterarrival, ModeRaw, e.mode)
	}
	if e.part != abi.PartStart && e.part != abi.PartIAT {
		return nil, fmt.Errorf("time %s: part must be %q or %q, got %q", e.column, abi.PartStart, abi.PartIAT, e.part)
	}
	if env.Params.Has("iat_min") {
		v := env.Params.Float("iat_min") * 1e6
		e.fixedIATMin = &v
	}
	if env.Params.Has("iat_max") {
		v := env.Params.Float("iat_max") * 1e6
		e.fixedIATMax = &v
	}
	if e.fixedIATMax != nil {
		lo := 0.0
		if e.fixedIATMin != nil {
			lo = *e.fixedIATMin
		}
		if !(lo < *e.fixedIATMax) || math.IsInf(*e.fixedIATMax, 0) || lo < 0 {
			return nil, fmt.Errorf("time %s: interarrival bounds [%v, %v] s are unusable", e.column, lo/1e6, *e.fixedIATMax/1e6)
		}
		if e.fixedIATMin == nil {
			// A fixed upper bound alone means [0, max]: interarrivals are
			// never negative, and reading the minimum from data would leak.
			e.fixedIATMin = &lo
		}
	}
	hasS, hasE := env.Params.Has(abi.ParamSpanStart), env.Params.Has(abi.ParamSpanEnd)
	if hasS != hasE {
		return nil, fmt.Errorf("time %s: give both span_start and span_end, or neither", e.column)
	}
	if hasS {
		s, t := int64(env.Params.Int(abi.ParamSpanStart)), int64(env.Params.Int(abi.ParamSpanEnd))
		if !(s < t) {
			return nil, fmt.Errorf("time %s: span_start %d must be before span_end %d", e.column, s, t)
		}
		e.fixedSpan = &[2]int64{s, t}
	}
	if e.startBins = env.Params.Int("start_bins"); e.startBins < 0 || e.startBins == 1 || e.startBins > 64 {
		return nil, fmt.Errorf("time %s: start_bins = %d, want 0 (none) or 2..64", e.column, e.startBins)
	}
	if env.Params.Bool(abi.ParamPrivate) {
		if !hasS {
			return nil, fmt.Errorf("time %s: private = true needs span_start and span_end (the chunk's bounds): bounds read from private data leak it", e.column)
		}
		if e.mode == ModeInterarrival && e.fixedIATMax == nil {
			return nil, fmt.Errorf("time %s: private = true needs a fixed iat_max (NetShare uses 1 s for packets, 300 s for flows): bounds read from private data leak it", e.column)
		}
	}
	return e, nil
}

func (e *Encoder) columns(b *abi.Batch, needFlow bool) (ts []int64, flow []uint32, err error) {
	c := b.Column(e.column)
	if c == nil {
		return nil, nil, fmt.Errorf("time %s: batch has no column %q", e.column, e.column)
	}
	if c.Type != abi.TypeTime && c.Type != abi.TypeI64 {
		return nil, nil, fmt.Errorf("time %s: column is %s, want time (µs)", e.column, c.Type)
	}
	if !needFlow {
		return c.I64, nil, nil
	}
	f := b.Column(abi.FlowColumn)
	if f == nil {
		return nil, nil, fmt.Errorf("time %s: batch has no %q column; the host must pass rows grouped by flow", e.column, abi.FlowColumn)
	}
	if f.Type != abi.TypeU32 {
		return nil, nil, fmt.Errorf("time %s: column %q is %s, want u32", e.column, abi.FlowColumn, f.Type)
	}
	return c.I64, f.U32, nil
}

// Fit gathers the chunk's bounds. Rows arrive grouped by flow in time
// order; a flow may continue across fit batches.
func (e *Encoder) Fit(b *abi.Batch) error {
	ts, flow, err := e.columns(b, true)
	if err != nil {
		return err
	}
	for i, t := range ts {
		if !e.haveRows {
			e.tsMin, e.tsMax = t, t
			e.haveRows = true
		}
		e.tsMin, e.tsMax = min(e.tsMin, t), max(e.tsMax, t)
		first := e.rows == 0 || flow[i] != e.lastFlow
		var iat int64
		if first {
			if !e.haveStarts {
				e.startMin, e.startMax = t, t
				e.iatMin, e.iatMax = 0, 0
				e.haveStarts = true
			}
			e.startMin, e.startMax = min(e.startMin, t), max(e.startMax, t)
		} else {
			iat = t - e.lastTS
			if iat < 0 {
				return fmt.Errorf("time %s: fit row %d (flow %d) is %d µs before the flow's previous record: rows must be in time order within a flow", e.column, i, flow[i], -iat)
			}
		}
		// A flow's first record counts as interarrival 0, as in NetShare.
		e.iatMin, e.iatMax = min(e.iatMin, iat), max(e.iatMax, iat)
		e.lastFlow, e.lastTS = flow[i], t
		e.rows++
	}
	return nil
}

// FitEnd fixes the bounds; degenerate spans (one flow, no interarrival)
// widen to 1 µs so that scaling stays defined.
func (e *Encoder) FitEnd() ([]byte, error) {
	st := state{Mode: e.mode}
	needData := e.fixedSpan == nil || (e.mode == ModeInterarrival && e.fixedIATMax == nil)
	if needData && e.rows == 0 {
		return nil, fmt.Errorf("time %s: fit saw no rows and the bounds are not fixed", e.column)
	}
	switch {
	case e.fixedSpan != nil:
		st.Lo, st.Hi = e.fixedSpan[0], e.fixedSpan[1]
	case e.mode == ModeRaw:
		st.Lo, st.Hi = e.tsMin, e.tsMax
	default:
		st.Lo, st.Hi = e.startMin, e.startMax
	}
	if st.Hi <= st.Lo {
		st.Hi = st.Lo + 1
	}
	if e.mode == ModeInterarrival {
		if e.fixedIATMax != nil {
			st.IATLo, st.IATHi = *e.fixedIATMin, *e.fixedIATMax
		} else {
			st.IATLo, st.IATHi = float64(e.iatMin), float64(e.iatMax)
			if e.fixedIATMin != nil {
				st.IATLo = *e.fixedIATMin
			}
		}
		if st.IATHi <= st.IATLo {
			st.IATHi = st.IATLo + 1
		}
		st.StartBins = e.startBins
	}
	return json.Marshal(st)
}

func (e *Encoder) Load(raw []byte) ([]abi.Output, error) {
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("time %s: bad state: %w", e.column, err)
	}
	if st.Mode != e.mode {
		return nil, fmt.Errorf("time %s: state was fitted in mode %q, instance opened in mode %q", e.column, st.Mode, e.mode)
	}
	if st.Hi <= st.Lo || (st.Mode == ModeInterarrival && !(st.IATLo < st.IATHi)) {
		return nil, fmt.Errorf("time %s: state bounds are unusable", e.column)
	}
	if st.StartBins < 0 || st.StartBins == 1 || st.StartBins > 64 || (st.StartBins > 0 && st.Mode != ModeInterarrival) {
		return nil, fmt.Errorf("time %s: state has %d start bins, want 0 or 2..64 in interarrival mode", e.column, st.StartBins)
	}
	e.st, e.ok = st, true
	if e.part == abi.PartStart {
		if e.mode == ModeRaw {
			return []abi.Output{}, nil
		}
		start := abi.Output{Name: e.column + ".start", Width: 1, Activation: abi.ActSigmoid}
		if st.StartBins > 0 {
			return []abi.Output{{Name: e.column + ".start_bin", Width: st.StartBins, Discrete: true, Activation: abi.ActSoftmax}, start}, nil
		}
		return []abi.Output{start}, nil
	}
	name := e.column + ".iat"
	if e.mode == ModeRaw {
		name = e.column
	}
	return []abi.Output{{Name: name, Width: 1, Activation: abi.ActSigmoid}}, nil
}

func (e *Encoder) width() int {
	if e.part == abi.PartStart && e.mode == ModeRaw {
		return 0
	}
	return 1
}

// Encode scales each row. For "start" every row is taken as a flow start
// (the host passes each flow's first record); for "iat" rows must be
// grouped by flow with the "_flow" column.
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	if !e.ok {
		return fmt.Errorf("time %s: encode before load", e.column)
	}
	needFlow := e.part == abi.PartIAT && e.mode == ModeInterarrival
	ts, flow, err := e.columns(b, needFlow)
	if err != nil {
		return err
	}
	if e.width() == 0 {
		return nil
	}
	dst := out.Values[:len(ts)]
	if !needFlow {
		lo, span := e.st.Lo, float64(e.st.Hi-e.st.Lo)
		k := e.startBinCount()
		for i, t := range ts {
			x := fmath.Clamp01(float64(t-lo) / span)
			if k == 0 {
				dst[i] = x
				continue
			}
			bin := min(int(x*float64(k)), k-1)
			out.Hot[i] = uint32(bin)
			dst[i] = fmath.Clamp01(x*float64(k) - float64(bin))
		}
		return nil
	}
	flow = flow[:len(ts)]
	ilo, ispan := e.st.IATLo, e.st.IATHi-e.st.IATLo
	// A flow's first record (and the batch's first row) has interarrival 0.
	first := fmath.Clamp01((0 - ilo) / ispan)
	if len(ts) > 0 {
		dst[0] = first
	}
	for i := 1; i < len(ts); i++ {
		if flow[i] != flow[i-1] {
			dst[i] = first
			continue
		}
		iat := ts[i] - ts[i-1]
		if iat < 0 {
			return fmt.Errorf("time %s: row %d (flow %d) is %d µs before the flow's previous record: rows must be in time order within a flow", e.column, i, flow[i], -iat)
		}
		dst[i] = fmath.Clamp01((float64(iat) - ilo) / ispan)
	}
	return nil
}

// Decode maps [0,1] back to µs: absolute times for "start" and raw mode,
// interarrival durations for "iat" (see the package comment).
func (e *Encoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	if !e.ok {
		return nil, fmt.Errorf("time %s: decode before load", e.column)
	}
	w, k := e.width(), e.startBinCount()
	hot := min(k, 1)
	if in.ValueWidth != w || in.HotWidth != hot || len(in.Values) != in.Rows*w || len(in.Hot) < in.Rows*hot {
		return nil, fmt.Errorf("time %s: decode wants %d rows of %d values and %d indices, got %d values of width %d and %d indices", e.column, in.Rows, w, hot, len(in.Values), in.ValueWidth, len(in.Hot))
	}
	if len(e.out.Columns) != 1 {
		e.out.Columns = make([]abi.Column, 1)
	}
	col := &e.out.Columns[0]
	col.Name, col.Type = e.column, abi.TypeTime
	col.I64 = abi.Grow(col.I64, in.Rows)
	if w == 0 {
		// Raw mode has no start attribute: the times come from the feature.
		clear(col.I64)
		return &e.out, nil
	}
	dst := col.I64[:len(in.Values)]
	if e.part == abi.PartIAT && e.mode == ModeInterarrival {
		ilo, ispan := e.st.IATLo, e.st.IATHi-e.st.IATLo
		for i, s := range in.Values {
			if s != s {
				return nil, fmt.Errorf("time %s: row %d is NaN", e.column, i)
			}
			// Bounds are ≥ 0 µs, so this is ≥ 0 unless fixed iat_min
			// made it negative; the old max(0, …) clamp stays.
			v := int64(fmath.Round(fmath.Clamp01(s)*ispan + ilo))
			if v < 0 {
				v = 0
			}
			dst[i] = v
		}
		return &e.out, nil
	}
	// Scale the offset, not the absolute time, to keep µs precision.
	lo, span := e.st.Lo, float64(e.st.Hi-e.st.Lo)
	for i, s := range in.Values {
		if s != s {
			return nil, fmt.Errorf("time %s: row %d is NaN", e.column, i)
		}
		x := fmath.Clamp01(s)
		if k > 0 {
			bin := in.Hot[i]
			if bin >= uint32(k) {
				return nil, fmt.Errorf("time %s: row %d is in start bin %d of %d", e.column, i, bin, k)
			}
			x = (float64(bin) + x) / float64(k)
		}
		dst[i] = lo + int64(fmath.Round(x*span))
	}
	return &e.out, nil
}

// startBinCount is the start part's bins (0: one sigmoid, or not the
// start part).
func (e *Encoder) startBinCount() int {
	if e.part != abi.PartStart {
		return 0
	}
	return e.st.StartBins
}
