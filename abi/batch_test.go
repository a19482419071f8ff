package abi

import (
	"errors"
	"reflect"
	"testing"
)

func sampleBatch() *Batch {
	return &Batch{Columns: []Column{
		{Name: "proto", Type: TypeU8, U8: []uint8{6, 17, 1}},
		{Name: "srcport", Type: TypeU16, U16: []uint16{80, 53, 0}},
		{Name: "srcip", Type: TypeIPv4, U32: []uint32{0x0a000001, 0xc0a80001, 0}},
		{Name: "ts", Type: TypeTime, I64: []int64{1, -2, 1 << 60}},
		{Name: "td", Type: TypeF64, F64: []float64{0.5, 1e300, -0}},
		{Name: "type", Type: TypeString, Dict: []string{"background", "blacklist"}, Codes: []uint32{0, 1, 0}},
	}}
}

func TestBatchRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		b    *Batch
	}{
		{"all types", sampleBatch()},
		{"empty", &Batch{}},
		{"zero rows", &Batch{Columns: []Column{{Name: "x", Type: TypeF64, F64: []float64{}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := AppendBatch(nil, tt.b)
			got, err := DecodeBatch(wire)
			if err != nil {
				t.Fatal(err)
			}
			if got.Len() != tt.b.Len() || len(got.Columns) != len(tt.b.Columns) {
				t.Fatalf("shape: got %d×%d want %d×%d", got.Len(), len(got.Columns), tt.b.Len(), len(tt.b.Columns))
			}
			for i := range got.Columns {
				g, w := got.Columns[i], tt.b.Columns[i]
				for j := 0; j < w.Len(); j++ {
					if g.Float(j) != w.Float(j) {
						t.Errorf("column %s row %d: got %v want %v", w.Name, j, g.Float(j), w.Float(j))
					}
				}
				if w.Type == TypeString && !reflect.DeepEqual(g.Dict, w.Dict) {
					t.Errorf("dict: got %v want %v", g.Dict, w.Dict)
				}
			}
		})
	}
}

func TestDecodeBatchMalformed(t *testing.T) {
	good := AppendBatch(nil, sampleBatch())
	cases := map[string][]byte{
		"empty":          nil,
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
		"huge columns":   {1, 0, 0, 0, 255, 255, 255, 255},
		"unknown type":   {1, 0, 0, 0, 1, 0, 0, 0, 99, 1, 0, 'x', 0},
		"code past dict": AppendBatch(nil, &Batch{Columns: []Column{{Name: "s", Type: TypeString, Dict: []string{"a"}, Codes: []uint32{3}}}}),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeBatch(in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	for i := range good {
		if _, err := DecodeBatch(good[:i]); err == nil {
			t.Fatalf("prefix of %d bytes decoded without error", i)
		}
	}
}

func TestFrames(t *testing.T) {
	req, err := AppendRequest(nil, OpenRequest{Kind: KindEncoder, Name: "x"}, []byte("body"))
	if err != nil {
		t.Fatal(err)
	}
	h, body, err := SplitRequest(req)
	if err != nil || string(body) != "body" || len(h) == 0 {
		t.Fatalf("request: %q %q %v", h, body, err)
	}
	_, _, err = SplitResponse(AppendError(nil, "boom"))
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Message != "boom" {
		t.Fatalf("error response: %v", err)
	}
	if _, _, err := SplitResponse([]byte{7, 0, 0, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad status: %v", err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatch(nil, sampleBatch()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := DecodeBatch(in)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes.
		if out := AppendBatch(nil, b); string(out) != string(in) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func TestResolveParams(t *testing.T) {
	c := Component{Kind: KindEncoder, Name: "continuous", Params: []Param{
		{Name: "log1p", Type: ParamBool, Default: false},
		{Name: "min", Type: ParamFloat},
		{Name: "bits", Type: ParamInt, Default: int64(32)},
		{Name: "choices", Type: ParamStrings},
	}}
	got, err := c.ResolveParams(map[string]any{"min": int64(3), "choices": []any{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"log1p": false, "min": 3.0, "bits": int64(32), "choices": []string{"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v want %#v", got, want)
	}
	for name, params := range map[string]map[string]any{
		"unknown":    {"log1pp": true},
		"wrong type": {"bits": "x"},
		"fraction":   {"bits": 1.5},
		"list item":  {"choices": []any{"a", int64(1)}},
	} {
		if _, err := c.ResolveParams(params); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err = c.ResolveParams(map[string]any{"log1pp": true})
	if want := `(did you mean "log1p"?)`; err == nil || !contains(err.Error(), want) {
		t.Errorf("suggestion missing: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestTakeAndSlice(t *testing.T) {
	b := sampleBatch()
	before := AppendBatch(nil, b)
	got := b.Take([]int32{2, 0, 2})
	if string(AppendBatch(nil, b)) != string(before) {
		t.Fatal("Take changed its source")
	}
	if got.Len() != 3 || got.Column("proto").U8[0] != 1 || got.Column("proto").U8[1] != 6 || got.Column("type").String(2) != "background" {
		t.Fatalf("Take: %+v", got.Columns)
	}
	s := b.Slice(1, 3)
	if s.Len() != 2 || s.Column("srcport").U16[0] != 53 {
		t.Fatalf("Slice: %+v", s.Columns)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestAppendInt: the writer matching Int round-trips every integer type and
// refuses values an unsigned column cannot hold.
func TestAppendInt(t *testing.T) {
	for _, tt := range []struct {
		typ    Type
		v      int64
		refuse bool
	}{
		{TypeU8, 255, false}, {TypeU8, 256, true}, {TypeU8, -1, true},
		{TypeU16, 65535, false}, {TypeU16, 65536, true},
		{TypeU32, 1<<32 - 1, false}, {TypeIPv4, 1 << 32, true},
		{TypeI64, -5, false}, {TypeTime, 1 << 40, false},
	} {
		c := Column{Name: "x", Type: tt.typ}
		err := c.AppendInt(tt.v)
		if (err != nil) != tt.refuse {
			t.Errorf("%s AppendInt(%d): error %v, want refused %v", tt.typ, tt.v, err, tt.refuse)
			continue
		}
		if !tt.refuse && (c.Len() != 1 || c.Int(0) != tt.v) {
			t.Errorf("%s AppendInt(%d): %d rows, Int(0) = %d", tt.typ, tt.v, c.Len(), c.Int(0))
		}
		if tt.refuse && c.Len() != 0 {
			t.Errorf("%s AppendInt(%d) refused but appended", tt.typ, tt.v)
		}
	}
}
