// Package sdk is what a plugin author imports to write a netshare plugin in
// ordinary Go. Implement one of the component interfaces, register it in an
// init function, give the program an empty main, and build with the stock
// toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o my.wasm .
//
// The sdk owns the module's exports, its memory protocol, (de)serialisation
// of batches, parameter validation and panic recovery; component code only
// sees abi.Batch, abi.Encoded and Go values. The same components run natively
// too (see Dispatcher), which is how their tests run without Wasm.
package sdk

import (
	"fmt"
	"sort"

	"github.com/netshare/netshare/abi"
)

// Env is what a component instance is created with.
type Env struct {
	Params Params
	// Seed is the host's seed for this instance; the only source of
	// randomness a plugin has.
	Seed int64
	// Column is the field an encoder instance serves.
	Column string
}

// Format decodes a byte stream into record batches and encodes them back.
type Format struct {
	// Detect reports whether the leading bytes of a stream are in this
	// format. It may be nil for formats that cannot be recognised.
	Detect func(head []byte) bool
	// NewReader and NewWriter may be nil for one-way formats.
	NewReader func(Env) (Reader, error)
	NewWriter func(Env) (Writer, error)
}

// Reader turns a stream fed in pieces into records. A piece may end in the
// middle of a record: the reader keeps the tail until the next piece.
type Reader interface {
	// Decode consumes p and returns the records it completed (nil or an
	// empty batch if none). The batch may be reused by the next call. p is
	// valid only during the call: copy whatever must outlive it.
	Decode(p []byte) (*abi.Batch, error)
	// End is called after the last piece; it returns any remaining
	// records and the counts of what was read and skipped.
	End() (*abi.Batch, abi.ReadStats, error)
}

// Writer turns record batches into a byte stream.
type Writer interface {
	// Encode returns dst with the bytes for b appended.
	Encode(dst []byte, b *abi.Batch) ([]byte, error)
	// End returns dst with any trailing bytes of the stream appended.
	End(dst []byte) ([]byte, error)
}

// FieldEncoder maps one field to the GAN's vectors and back.
// The life cycle is Fit… FitEnd (on real data, producing a state the host
// stores with the model), then Load (from that state, possibly in another
// process) followed by any number of Encode and Decode calls.
//
// Encoded rows carry a discrete output as the index of its hot position
// and a continuous output as its values (see abi.Encoded): the host owns
// the one-hot vectors and the argmax over generated ones.
type FieldEncoder interface {
	// Fit sees a batch of records: all of the trace's columns, in the
	// trace's order, without abi.FlowColumn (popular values tell flows
	// apart by the other flow-key columns). Only the time field's fit
	// gets rows grouped by flow, in time order, with abi.FlowColumn.
	Fit(b *abi.Batch) error
	// FitEnd returns the fitted state.
	FitEnd() ([]byte, error)
	// Load restores a fitted state and describes the encoded vector.
	Load(state []byte) ([]abi.Output, error)
	// Encode writes the encoding of b's rows (at least the field's column,
	// plus abi.FlowColumn where the host has it) into out, which the sdk has
	// sized to b's rows and the layout of Load's outputs. out's memory is
	// the response being built and holds whatever the last call left:
	// Encode must set every index and value. b is valid only during the
	// call.
	Encode(b *abi.Batch, out *abi.Encoded) error
	// Decode maps encoded rows back to a batch holding the field's column
	// (and abi.FlowColumn where the encoder needs it). The sdk has checked in's
	// shape and that every index is inside its output's width; in is
	// valid only during the call. The batch may be reused by the next
	// call.
	Decode(in *abi.Encoded) (*abi.Batch, error)
}

// Metric scores a synthetic table against a real one. Both sides arrive in
// any number of batches; Score is called once at the end.
type Metric interface {
	AddReal(b *abi.Batch) error
	AddSynthetic(b *abi.Batch) error
	Score() (abi.Scores, error)
}

type registration struct {
	spec       abi.Component
	format     *Format
	newEncoder func(Env) (FieldEncoder, error)
	newMetric  func(Env) (Metric, error)
}

var (
	moduleName = "plugin"
	registry   = map[string]*registration{}
)

// SetModule names the module in its manifest (default "plugin").
func SetModule(name string) { moduleName = name }

// RegisterFormat registers a format component. spec.Kind is set for you.
func RegisterFormat(spec abi.Component, f Format) {
	spec.Kind = abi.KindFormat
	add(&registration{spec: spec, format: &f})
}

// RegisterEncoder registers an encoder component.
func RegisterEncoder(spec abi.Component, newFn func(Env) (FieldEncoder, error)) {
	spec.Kind = abi.KindEncoder
	add(&registration{spec: spec, newEncoder: newFn})
}

// RegisterMetric registers a metric component.
func RegisterMetric(spec abi.Component, newFn func(Env) (Metric, error)) {
	spec.Kind = abi.KindMetric
	add(&registration{spec: spec, newMetric: newFn})
}

func add(r *registration) {
	key := string(r.spec.Kind) + "/" + r.spec.Name
	if _, dup := registry[key]; dup {
		panic("sdk: component registered twice: " + key)
	}
	if r.spec.Version == "" {
		r.spec.Version = "0.0.0"
	}
	registry[key] = r
}

// Manifest returns the manifest of everything registered.
func Manifest() abi.Manifest {
	m := abi.Manifest{ABI: abi.Version, Module: moduleName}
	keys := make([]string, 0, len(registry))
	for k := range registry {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.Components = append(m.Components, registry[k].spec)
	}
	return m
}

// Params are a component's parameters, validated against its declaration
// and completed with defaults. Accessors panic on a type mismatch, which is
// a bug in the component (the declaration says the type); the sdk turns
// the panic into an error naming the call.
type Params map[string]any

func (p Params) Has(name string) bool { _, ok := p[name]; return ok }

func (p Params) Int(name string) int          { return int(get[int64](p, name)) }
func (p Params) Float(name string) float64    { return get[float64](p, name) }
func (p Params) String(name string) string    { return get[string](p, name) }
func (p Params) Bool(name string) bool        { return get[bool](p, name) }
func (p Params) Strings(name string) []string { return get[[]string](p, name) }
func (p Params) Floats(name string) []float64 { return get[[]float64](p, name) }
func (p Params) Ints(name string) []int64     { return get[[]int64](p, name) }
func (p Params) Table(name string) map[string]string {
	return get[map[string]string](p, name)
}

func get[T any](p Params, name string) T {
	var zero T
	v, ok := p[name]
	if !ok {
		return zero
	}
	t, ok := v.(T)
	if !ok {
		panic(fmt.Sprintf("parameter %q is %T, read as %T", name, v, zero))
	}
	return t
}
