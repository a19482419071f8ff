package sdk_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// The components of the examples register once, as a plugin's init does.
func init() {
	sdk.RegisterEncoder(abi.Component{Name: "example-range", Summary: "a u16 column scaled to [-1, 1] over its fitted range"},
		func(env sdk.Env) (sdk.FieldEncoder, error) { return &rangeEncoder{column: env.Column}, nil })
	sdk.RegisterMetric(abi.Component{
		Name:     "example-mean-gap",
		Params:   []abi.Param{{Name: "column", Type: abi.ParamString, Required: true}},
		Defaults: map[string]any{abi.DefaultColumnParams: []string{"column"}},
	}, func(env sdk.Env) (sdk.Metric, error) { return &meanGap{column: env.Params.String("column")}, nil })
	sdk.RegisterFormat(abi.Component{Name: "example-lines", Summary: "one decimal byte count per line"}, sdk.Format{
		Detect:    func(head []byte) bool { return len(head) > 0 && head[0] >= '0' && head[0] <= '9' },
		NewReader: func(sdk.Env) (sdk.Reader, error) { return &linesReader{}, nil },
	})
}

// rangeEncoder fits a column's range and encodes each value as one tanh
// output.
type rangeEncoder struct {
	column string
	lo, hi float64
	seen   bool
}

func (e *rangeEncoder) Fit(b *abi.Batch) error {
	for _, v := range b.Column(e.column).U16 {
		if !e.seen {
			e.lo, e.hi, e.seen = float64(v), float64(v), true
		}
		e.lo, e.hi = min(e.lo, float64(v)), max(e.hi, float64(v))
	}
	return nil
}

func (e *rangeEncoder) FitEnd() ([]byte, error) { return json.Marshal([2]float64{e.lo, e.hi}) }

func (e *rangeEncoder) Load(state []byte) ([]abi.Output, error) {
	var r [2]float64
	if err := json.Unmarshal(state, &r); err != nil {
		return nil, err
	}
	e.lo, e.hi = r[0], r[1]
	return []abi.Output{{Name: e.column, Width: 1, Activation: abi.ActTanh}}, nil
}

func (e *rangeEncoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	for i, v := range b.Column(e.column).U16 {
		out.Values[i] = 2*(float64(v)-e.lo)/(e.hi-e.lo) - 1
	}
	return nil
}

func (e *rangeEncoder) Decode(in *abi.Encoded) (*abi.Batch, error) {
	col := abi.Column{Name: e.column, Type: abi.TypeU16, U16: make([]uint16, in.Rows)}
	for i := range col.U16 {
		col.U16[i] = uint16(math.Round(e.lo + (in.Values[i]+1)/2*(e.hi-e.lo)))
	}
	return &abi.Batch{Columns: []abi.Column{col}}, nil
}

// meanGap scores how far the synthetic mean of a column is from the real
// one, relative to the real mean.
type meanGap struct {
	column    string
	real, syn []float64
}

func values(b *abi.Batch, column string) ([]float64, error) {
	c := b.Column(column)
	if c == nil {
		return nil, fmt.Errorf("mean-gap: no column %q", column)
	}
	out := make([]float64, c.Len())
	for i := range out {
		out[i] = c.Float(i)
	}
	return out, nil
}

func (m *meanGap) AddReal(b *abi.Batch) error {
	v, err := values(b, m.column)
	m.real = append(m.real, v...)
	return err
}

func (m *meanGap) AddSynthetic(b *abi.Batch) error {
	v, err := values(b, m.column)
	m.syn = append(m.syn, v...)
	return err
}

func (m *meanGap) Score() (abi.Scores, error) {
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	r := mean(m.real)
	return abi.Scores{Values: map[string]float64{m.column + "_mean_gap": math.Abs(mean(m.syn)-r) / r}}, nil
}

// linesReader reads one byte count per line into a "byt" column.
type linesReader struct {
	tail  []byte
	stats abi.ReadStats
}

func (r *linesReader) Decode(p []byte) (*abi.Batch, error) {
	r.tail = append(r.tail, p...)
	col := abi.Column{Name: "byt", Type: abi.TypeI64}
	for {
		i := bytes.IndexByte(r.tail, '\n')
		if i < 0 {
			break
		}
		line := r.tail[:i]
		r.tail = r.tail[i+1:]
		v, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil {
			if r.stats.Skipped == nil {
				r.stats.Skipped = map[string]int64{}
			}
			r.stats.Skipped["not a number"]++
			continue
		}
		col.I64 = append(col.I64, v)
		r.stats.Records++
	}
	r.tail = append([]byte(nil), r.tail...)
	return &abi.Batch{Columns: []abi.Column{col}}, nil
}

func (r *linesReader) End() (*abi.Batch, abi.ReadStats, error) {
	if len(r.tail) > 0 {
		b, err := r.Decode([]byte("\n"))
		return b, r.stats, err
	}
	return nil, r.stats, nil
}

// An encoder is driven the way the host drives it: fit on the real
// records, load the fitted state, encode, and decode what the GAN made.
func ExampleRegisterEncoder() {
	w := sdktest.NewWire(nil)
	ports := &abi.Batch{Columns: []abi.Column{{Name: "port", Type: abi.TypeU16, U16: []uint16{80, 443, 8080}}}}
	h := w.Open("example-range", "port", nil, 1)
	state := w.Fit(h, ports)
	outs := w.Load(h, state)
	enc := w.Encode(h, ports)
	fmt.Printf("state %s, output %s of width %d\n", state, outs[0].Name, outs[0].Width)
	fmt.Printf("%.4f\n", enc.Values)
	fmt.Println(sdktest.Rows(w.Decode(h, enc)))
	// Output:
	// state [80,8080], output port of width 1
	// [-1.0000 -0.9093 1.0000]
	// [port=80 port=443 port=8080]
}

// A metric sees the real and the synthetic records and returns named
// scores; the host sends it only the columns its column params name.
func ExampleRegisterMetric() {
	w := sdktest.NewWire(nil)
	real := &abi.Batch{Columns: []abi.Column{{Name: "byt", Type: abi.TypeI64, I64: []int64{100, 200, 300}}}}
	syn := &abi.Batch{Columns: []abi.Column{{Name: "byt", Type: abi.TypeI64, I64: []int64{150, 250, 350}}}}
	sc := w.Score("example-mean-gap", map[string]any{"column": "byt"}, real, syn)
	fmt.Println(sc.Values)
	// Output: map[byt_mean_gap:0.25]
}

// A format's reader gets the stream in pieces that may cut a record in
// two, and counts what it skips.
func ExampleRegisterFormat() {
	w := sdktest.NewWire(nil)
	batches, stats := w.ReadStream("example-lines", nil, []byte("1500\n4"), []byte("0\nnoise\n9000"))
	for _, b := range batches {
		fmt.Println(sdktest.Rows(b))
	}
	fmt.Println(stats.Records, stats.Skipped)
	// Output:
	// [byt=1500]
	// [byt=40]
	// [byt=9000]
	// 3 map[not a number:1]
}
