// Package sdktest drives registered components through sdk.NewDispatcher,
// the exact wire protocol the host speaks to a Wasm module, so a plugin's
// tests run natively with no Wasm build. Import the component's package
// for its registration, then:
//
//	w := sdktest.NewWire(t)
//	h := w.Open("ttl-bucket", "ttl", nil, 1)
//	state := w.Fit(h, batch)
//	outs := w.Load(h, state)
//	e := w.Encode(h, batch)
//	back := w.Decode(h, e)
//
// The Try… variants return the plugin's error instead of failing the test.
package sdktest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// Wire is a dispatcher over the registered components.
type Wire struct {
	t testing.TB
	d *sdk.Dispatcher
}

// NewWire returns a Wire whose helpers fail t on protocol errors. t may be
// nil, as in a godoc Example: the helpers then panic instead.
func NewWire(t testing.TB) *Wire {
	if t == nil {
		t = panicTB{}
	}
	return &Wire{t: t, d: sdk.NewDispatcher()}
}

// panicTB stands in for a missing testing.TB: it panics where a test
// would fail. (The embedded nil TB only supplies the method set; any other
// method called on it panics too.)
type panicTB struct{ testing.TB }

func (panicTB) Helper()                      {}
func (panicTB) Fatal(args ...any)            { panic(fmt.Sprint(args...)) }
func (panicTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

// Call sends one request and returns copies of the response's header and
// body, or the plugin's error.
func (w *Wire) Call(op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte, error) {
	req, err := abi.AppendRequest(nil, header, body)
	if err != nil {
		w.t.Fatal(err)
	}
	h, b, err := abi.SplitResponse(w.d.Call(op, handle, req))
	return append([]byte(nil), h...), append([]byte(nil), b...), err
}

// TryOpen opens an encoder instance.
func (w *Wire) TryOpen(name, column string, params map[string]any, seed int64) (uint32, error) {
	h, _, err := w.Call(abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindEncoder, Name: name, Column: column, Params: params, Seed: seed}, nil)
	if err != nil {
		return 0, err
	}
	var r abi.OpenReply
	if err := json.Unmarshal(h, &r); err != nil {
		w.t.Fatal(err)
	}
	return r.Handle, nil
}

// TryFit runs fit on each batch, then fit-end, returning the state.
func (w *Wire) TryFit(handle uint32, batches ...*abi.Batch) ([]byte, error) {
	for _, b := range batches {
		if _, _, err := w.Call(abi.OpFit, handle, nil, abi.AppendBatch(nil, b)); err != nil {
			return nil, err
		}
	}
	_, st, err := w.Call(abi.OpFitEnd, handle, nil, nil)
	return st, err
}

// TryLoad loads a fitted state and returns the outputs it describes.
func (w *Wire) TryLoad(handle uint32, state []byte) ([]abi.Output, error) {
	h, _, err := w.Call(abi.OpLoad, handle, nil, state)
	if err != nil {
		return nil, err
	}
	var r abi.LoadReply
	if err := json.Unmarshal(h, &r); err != nil {
		w.t.Fatal(err)
	}
	return r.Outputs, nil
}

// TryEncode encodes b.
func (w *Wire) TryEncode(handle uint32, b *abi.Batch) (*abi.Encoded, error) {
	_, body, err := w.Call(abi.OpEncVal, handle, nil, abi.AppendBatch(nil, b))
	if err != nil {
		return nil, err
	}
	return abi.DecodeEncoded(body)
}

// TryDecode decodes e.
func (w *Wire) TryDecode(handle uint32, e *abi.Encoded) (*abi.Batch, error) {
	_, body, err := w.Call(abi.OpDecVal, handle, nil, abi.AppendEncoded(nil, e))
	if err != nil {
		return nil, err
	}
	return abi.DecodeBatch(body)
}

// Open is TryOpen failing the test on error.
func (w *Wire) Open(name, column string, params map[string]any, seed int64) uint32 {
	w.t.Helper()
	v, err := w.TryOpen(name, column, params, seed)
	w.check(err)
	return v
}

// Fit is TryFit failing the test on error.
func (w *Wire) Fit(handle uint32, batches ...*abi.Batch) []byte {
	w.t.Helper()
	v, err := w.TryFit(handle, batches...)
	w.check(err)
	return v
}

// Load is TryLoad failing the test on error.
func (w *Wire) Load(handle uint32, state []byte) []abi.Output {
	w.t.Helper()
	v, err := w.TryLoad(handle, state)
	w.check(err)
	return v
}

// Encode is TryEncode failing the test on error.
func (w *Wire) Encode(handle uint32, b *abi.Batch) *abi.Encoded {
	w.t.Helper()
	v, err := w.TryEncode(handle, b)
	w.check(err)
	return v
}

// Decode is TryDecode failing the test on error.
func (w *Wire) Decode(handle uint32, e *abi.Encoded) *abi.Batch {
	w.t.Helper()
	v, err := w.TryDecode(handle, e)
	w.check(err)
	return v
}

func (w *Wire) check(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// TryScore runs a metric over real and synthetic records and returns its
// scores.
func (w *Wire) TryScore(name string, params map[string]any, real, synthetic *abi.Batch) (abi.Scores, error) {
	var sc abi.Scores
	h, _, err := w.Call(abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindMetric, Name: name, Params: params}, nil)
	if err != nil {
		return sc, err
	}
	var r abi.OpenReply
	if err := json.Unmarshal(h, &r); err != nil {
		return sc, err
	}
	defer w.Call(abi.OpClose, r.Handle, nil, nil)
	if _, _, err := w.Call(abi.OpAddReal, r.Handle, nil, abi.AppendBatch(nil, real)); err != nil {
		return sc, err
	}
	if _, _, err := w.Call(abi.OpAddSynthetic, r.Handle, nil, abi.AppendBatch(nil, synthetic)); err != nil {
		return sc, err
	}
	hdr, _, err := w.Call(abi.OpScore, r.Handle, nil, nil)
	if err != nil {
		return sc, err
	}
	return sc, json.Unmarshal(hdr, &sc)
}

// Score is TryScore failing the test on error.
func (w *Wire) Score(name string, params map[string]any, real, synthetic *abi.Batch) abi.Scores {
	w.t.Helper()
	v, err := w.TryScore(name, params, real, synthetic)
	w.check(err)
	return v
}

// TryReadStream reads a stream, fed in the given pieces, with a format and
// returns the batches its reader returned (empty ones left out) and its
// stats.
func (w *Wire) TryReadStream(format string, params map[string]any, pieces ...[]byte) ([]*abi.Batch, abi.ReadStats, error) {
	var st abi.ReadStats
	h, _, err := w.Call(abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindFormat, Name: format, Params: params, Mode: abi.ModeRead}, nil)
	if err != nil {
		return nil, st, err
	}
	var r abi.OpenReply
	if err := json.Unmarshal(h, &r); err != nil {
		return nil, st, err
	}
	defer w.Call(abi.OpClose, r.Handle, nil, nil)
	var out []*abi.Batch
	keep := func(body []byte) error {
		b, err := abi.DecodeBatch(body)
		if err == nil && b.Len() > 0 {
			out = append(out, b)
		}
		return err
	}
	for _, p := range pieces {
		_, body, err := w.Call(abi.OpRead, r.Handle, nil, p)
		if err == nil {
			err = keep(body)
		}
		if err != nil {
			return nil, st, err
		}
	}
	hdr, body, err := w.Call(abi.OpReadEnd, r.Handle, nil, nil)
	if err == nil {
		err = keep(body)
	}
	if err == nil {
		err = json.Unmarshal(hdr, &st)
	}
	return out, st, err
}

// ReadStream is TryReadStream failing the test on error.
func (w *Wire) ReadStream(format string, params map[string]any, pieces ...[]byte) ([]*abi.Batch, abi.ReadStats) {
	w.t.Helper()
	b, st, err := w.TryReadStream(format, params, pieces...)
	w.check(err)
	return b, st
}

// Columns returns a batch with just the named columns of b.
func Columns(b *abi.Batch, names ...string) *abi.Batch {
	out := &abi.Batch{}
	for _, n := range names {
		out.Columns = append(out.Columns, *b.Column(n))
	}
	return out
}

// Params returns the parameters a registered component gets for p: checked
// against its declaration and completed with defaults, as the host does.
func Params(t testing.TB, kind abi.Kind, name string, p map[string]any) sdk.Params {
	t.Helper()
	m := sdk.Manifest()
	c, ok := m.Find(kind, name)
	if !ok {
		t.Fatalf("no %s %q is registered", kind, name)
	}
	r, err := c.ResolveParams(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Rows renders every record of b as one string, "name=value" per column in
// batch order joined by "|", so records compare across decodes and batch
// boundaries.
func Rows(b *abi.Batch) []string {
	out := make([]string, b.Len())
	for r := range out {
		var sb strings.Builder
		for i := range b.Columns {
			c := &b.Columns[i]
			if i > 0 {
				sb.WriteByte('|')
			}
			sb.WriteString(c.Name + "=")
			switch c.Type {
			case abi.TypeString:
				sb.WriteString(c.String(r))
			case abi.TypeF64:
				fmt.Fprint(&sb, c.F64[r])
			default:
				fmt.Fprint(&sb, int64(c.Float(r)))
			}
		}
		out[r] = sb.String()
	}
	return out
}

// Read feeds pieces to dec, then ends it, and returns the records it
// produced passed through the wire form (as the host sees them), with the
// decoder's stats. Feeding one stream in different pieces must give the
// same records; format tests and fuzzers check that with it.
func Read(dec sdk.Reader, pieces ...[]byte) ([]*abi.Batch, abi.ReadStats, error) {
	var out []*abi.Batch
	keep := func(b *abi.Batch) error {
		if b == nil || b.Len() == 0 {
			return nil
		}
		if err := b.Check(); err != nil {
			return err
		}
		c, err := abi.DecodeBatch(abi.AppendBatch(nil, b))
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	}
	for _, piece := range pieces {
		b, err := dec.Decode(piece)
		if err != nil {
			return nil, abi.ReadStats{}, err
		}
		if err := keep(b); err != nil {
			return nil, abi.ReadStats{}, err
		}
	}
	b, st, err := dec.End()
	if err != nil {
		return nil, st, err
	}
	return out, st, keep(b)
}

// Dense returns encoded rows as the GAN sees them: each row the
// concatenation of the outputs, a discrete one as a one-hot vector. It is
// row-major, abi.Width(outs) values a row.
func Dense(outs []abi.Output, e *abi.Encoded) []float64 {
	w := abi.Width(outs)
	out := make([]float64, e.Rows*w)
	for i := 0; i < e.Rows; i++ {
		row, hot, vals := out[i*w:(i+1)*w], e.HotRow(i), e.ValueRow(i)
		for _, o := range outs {
			if o.Discrete {
				row[hot[0]] = 1
				hot = hot[1:]
			} else {
				copy(row, vals[:o.Width])
				vals = vals[o.Width:]
			}
			row = row[o.Width:]
		}
	}
	return out
}

// Sparse is Dense's inverse for any dense rows, generated ones included:
// a discrete output becomes the index of its largest value (the lowest on
// ties), as the host does before it asks for a decode.
func Sparse(outs []abi.Output, dense []float64) *abi.Encoded {
	w := abi.Width(outs)
	hw, vw := abi.Layout(outs)
	rows := len(dense) / w
	e := &abi.Encoded{Rows: rows, HotWidth: hw, ValueWidth: vw, Hot: make([]uint32, 0, rows*hw), Values: make([]float64, 0, rows*vw)}
	for i := 0; i < rows; i++ {
		row := dense[i*w : (i+1)*w]
		for _, o := range outs {
			v := row[:o.Width]
			row = row[o.Width:]
			if !o.Discrete {
				e.Values = append(e.Values, v...)
				continue
			}
			best := 0
			for j, x := range v {
				if x > v[best] {
					best = j
				}
			}
			e.Hot = append(e.Hot, uint32(best))
		}
	}
	return e
}
