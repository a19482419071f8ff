package sdk

import (
	"errors"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

// fake encodes a u8 column as one 3-way discrete output (v % 3) and two
// values (v, -v); misbehave makes it break the contract.
type fake struct{ misbehave string }

func (f *fake) Fit(*abi.Batch) error    { return nil }
func (f *fake) FitEnd() ([]byte, error) { return nil, nil }
func (f *fake) Load([]byte) ([]abi.Output, error) {
	return []abi.Output{
		{Name: "v", Width: 2, Activation: abi.ActTanh},
		{Name: "class", Width: 3, Discrete: true, Activation: abi.ActSoftmax},
	}, nil
}

func (f *fake) Encode(b *abi.Batch, out *abi.Encoded) error {
	switch f.misbehave {
	case "resize":
		out.Hot = out.Hot[:0]
		return nil
	case "panic":
		panic("kaboom")
	}
	for i, v := range b.Column("x").U8 {
		out.Hot[i] = uint32(v % 3)
		out.Values[2*i], out.Values[2*i+1] = float64(v), -float64(v)
	}
	return nil
}

func (f *fake) Decode(in *abi.Encoded) (*abi.Batch, error) {
	col := abi.Column{Name: "x", Type: abi.TypeU8}
	for i := 0; i < in.Rows; i++ {
		col.U8 = append(col.U8, uint8(in.ValueRow(i)[0]))
	}
	return &abi.Batch{Columns: []abi.Column{col}}, nil
}

func init() {
	for _, m := range []string{"", "resize", "panic"} {
		RegisterEncoder(abi.Component{Name: "fake-" + m}, func(Env) (FieldEncoder, error) { return &fake{misbehave: m}, nil })
	}
}

func call(t *testing.T, d *Dispatcher, op abi.Op, h uint32, header any, body []byte) ([]byte, []byte, error) {
	t.Helper()
	req, err := abi.AppendRequest(nil, header, body)
	if err != nil {
		t.Fatal(err)
	}
	rh, rb, err := abi.SplitResponse(d.Call(op, h, req))
	return append([]byte(nil), rh...), append([]byte(nil), rb...), err
}

func open(t *testing.T, d *Dispatcher, name string) uint32 {
	t.Helper()
	if _, _, err := call(t, d, abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindEncoder, Name: name, Column: "x"}, nil); err != nil {
		t.Fatal(err)
	}
	return d.next
}

func TestEncodeValuesInPlace(t *testing.T) {
	d := NewDispatcher()
	h := open(t, d, "fake-")
	batch := abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeU8, U8: []uint8{4, 7, 9}}}})
	if _, _, err := call(t, d, abi.OpEncVal, h, nil, batch); err == nil || !strings.Contains(err.Error(), "encode-values before load") {
		t.Fatalf("encode before load: %v", err)
	}
	if _, _, err := call(t, d, abi.OpDecVal, h, nil, nil); err == nil || !strings.Contains(err.Error(), "decode-values before load") {
		t.Fatalf("decode before load: %v", err)
	}
	if _, _, err := call(t, d, abi.OpLoad, h, nil, nil); err != nil {
		t.Fatal(err)
	}
	_, body, err := call(t, d, abi.OpEncVal, h, nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	e, err := abi.DecodeEncoded(body)
	if err != nil {
		t.Fatal(err)
	}
	if e.Rows != 3 || e.HotWidth != 1 || e.ValueWidth != 2 {
		t.Fatalf("encoded %d rows of %d indices and %d values", e.Rows, e.HotWidth, e.ValueWidth)
	}
	for i, v := range []uint8{4, 7, 9} {
		if e.Hot[i] != uint32(v%3) || e.Values[2*i] != float64(v) || e.Values[2*i+1] != -float64(v) {
			t.Fatalf("row %d: %v %v", i, e.HotRow(i), e.ValueRow(i))
		}
	}
	_, body, err = call(t, d, abi.OpDecVal, h, nil, abi.AppendEncoded(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	b, err := abi.DecodeBatch(body)
	if err != nil || b.Column("x") == nil || string(b.Column("x").U8) != string([]uint8{4, 7, 9}) {
		t.Fatalf("decoded %+v, %v", b, err)
	}
}

func TestEncodedContract(t *testing.T) {
	one := abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeU8, U8: []uint8{1}}}})
	tests := []struct {
		name, encoder string
		op            abi.Op
		body          []byte
		want          string
		malformed     bool
	}{
		{"encoder resizes its output", "fake-resize", abi.OpEncVal, one, "the encoder resized its output", false},
		{"panic in encode", "fake-panic", abi.OpEncVal, one, "panic: kaboom", false},
		{"index outside its output", "fake-", abi.OpDecVal,
			abi.AppendEncoded(nil, &abi.Encoded{Rows: 1, HotWidth: 1, ValueWidth: 2, Hot: []uint32{3}, Values: []float64{0, 0}}),
			`row 0 output "class": index 3 outside its width 3`, true},
		{"layout of other outputs", "fake-", abi.OpDecVal,
			abi.AppendEncoded(nil, &abi.Encoded{Rows: 1, HotWidth: 2, Hot: []uint32{0, 0}, Values: []float64{}}),
			"2 indices and 0 values each, the outputs 1 and 2", true},
		{"truncated rows", "fake-", abi.OpDecVal, []byte{1, 0, 0, 0}, "encoded rows header", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDispatcher()
			h := open(t, d, tc.encoder)
			if _, _, err := call(t, d, abi.OpLoad, h, nil, nil); err != nil {
				t.Fatal(err)
			}
			_, _, err := call(t, d, tc.op, h, nil, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			// Errors travel as the plugin's message; the malformed ones say so.
			var pe *abi.PluginError
			if !errors.As(err, &pe) || strings.Contains(pe.Message, "malformed data") != tc.malformed {
				t.Fatalf("error %v: malformed %v", err, tc.malformed)
			}
		})
	}
}
