package word2vec

import (
	"testing"

	"github.com/netshare/netshare/abi"
)

// FuzzLoad: any state bytes either load or give an error, never a panic,
// and a loaded state encodes and decodes its own vocabulary.
func FuzzLoad(f *testing.F) {
	e, err := New(envFor("srcport"))
	if err != nil {
		f.Fatal(err)
	}
	if err := e.Fit(synthetic(200)); err != nil {
		f.Fatal(err)
	}
	good, err := e.FitEnd()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"vector_size":1,"kinds":["port"],"token_kind":[0],"token_value":[70000],"vectors":"AAAAAAAA8D8="}`))
	f.Add([]byte(`{"vector_size":2,"kinds":["port"],"token_kind":[3],"token_value":[1],"vectors":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, state []byte) {
		e, err := New(envFor("srcport"))
		if err != nil {
			t.Fatal(err)
		}
		outs, err := e.Load(state)
		if err != nil {
			return
		}
		enc := e.(*Encoder)
		vals := make([]uint16, 0, len(enc.values))
		for _, v := range enc.values {
			vals = append(vals, uint16(v))
		}
		hot, width := abi.Layout(outs)
		if hot != 0 || width != enc.dim {
			t.Fatalf("outputs %+v: want %d values and no indices", outs, enc.dim)
		}
		m := &abi.Encoded{Rows: len(vals), ValueWidth: width, Values: make([]float64, len(vals)*width)}
		if err := e.Encode(&abi.Batch{Columns: []abi.Column{{Name: "srcport", Type: abi.TypeU16, U16: vals}}}, m); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Decode(m); err != nil {
			t.Fatal(err)
		}
	})
}
