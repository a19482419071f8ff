package abi

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseTypeInvertsString(t *testing.T) {
	for typ := range typeNames {
		got, ok := ParseType(typ.String())
		if !ok || got != typ {
			t.Errorf("ParseType(%q) = %v, %v; want %v", typ.String(), got, ok, typ)
		}
	}
	for _, bad := range []string{"", "U8", "int", "type(9)"} {
		if _, ok := ParseType(bad); ok {
			t.Errorf("ParseType(%q) accepted", bad)
		}
	}
}

// TestIsInt pins which types hold integers: IPv4 addresses and timestamps
// are integers on the wire, so an encoder that models integers (categorical
// choices, word2vec tokens) takes them too, and Column.Int reads them.
func TestIsInt(t *testing.T) {
	want := map[Type]bool{
		TypeU8: true, TypeU16: true, TypeU32: true, TypeIPv4: true, TypeI64: true, TypeTime: true,
		TypeF64: false, TypeString: false, Type(0): false, Type(9): false,
	}
	for typ, w := range want {
		if got := typ.IsInt(); got != w {
			t.Errorf("%v.IsInt() = %v, want %v", typ, got, w)
		}
	}
	cols := []Column{
		{Type: TypeU8, U8: []uint8{7}},
		{Type: TypeU16, U16: []uint16{7}},
		{Type: TypeU32, U32: []uint32{7}},
		{Type: TypeIPv4, U32: []uint32{7}},
		{Type: TypeI64, I64: []int64{7}},
		{Type: TypeTime, I64: []int64{7}},
	}
	for _, c := range cols {
		if !c.Type.IsInt() || c.Int(0) != 7 {
			t.Errorf("%v: IsInt %v, Int(0) = %d", c.Type, c.Type.IsInt(), c.Int(0))
		}
	}
}

func TestGrow(t *testing.T) {
	s := make([]int, 2, 8)
	if g := Grow(s, 5); len(g) != 5 || &g[0] != &s[0] {
		t.Errorf("within capacity: len %d, same storage %v", len(g), &g[0] == &s[0])
	}
	if g := Grow(s, 9); len(g) != 9 || cap(g) < 9 {
		t.Errorf("past capacity: len %d cap %d", len(g), cap(g))
	}
	if g := Grow[float64](nil, 0); len(g) != 0 {
		t.Errorf("empty: len %d", len(g))
	}
}

// TestComponentDefault reads a default both as a component registered it
// (Go values) and as a manifest carries it across the boundary (JSON).
func TestComponentDefault(t *testing.T) {
	fd := FieldDefaults{
		Fields:  []Field{{Name: "ts", Role: RoleTime, Encoder: "time", Params: map[string]any{"iat_max": 1.0}}},
		Strings: &StringDefault{Field: Field{Role: RoleFeature, Encoder: "categorical"}, MaxValues: 64},
	}
	native := Component{Kind: KindFormat, Name: "f", Defaults: map[string]any{DefaultFields: fd, DefaultColumnParams: []string{"column"}}}
	raw, err := json.Marshal(native)
	if err != nil {
		t.Fatal(err)
	}
	var wire Component
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Component{"native": native, "wire": wire} {
		var got FieldDefaults
		if ok, err := c.Default(DefaultFields, &got); !ok || err != nil {
			t.Fatalf("%s: %v %v", name, ok, err)
		}
		if !reflect.DeepEqual(got, fd) {
			t.Errorf("%s: got %+v, want %+v", name, got, fd)
		}
		var cols []string
		if ok, err := c.Default(DefaultColumnParams, &cols); !ok || err != nil || !reflect.DeepEqual(cols, []string{"column"}) {
			t.Errorf("%s: column params %v %v %v", name, cols, ok, err)
		}
		var none []string
		if ok, err := c.Default("absent", &none); ok || err != nil {
			t.Errorf("%s: absent key: %v %v", name, ok, err)
		}
		var wrong int
		if _, err := c.Default(DefaultColumnParams, &wrong); err == nil {
			t.Errorf("%s: a list decoded into an int", name)
		}
	}
}

func TestFieldDefaultsApply(t *testing.T) {
	records := &Batch{Columns: []Column{
		{Name: "ts", Type: TypeTime, I64: []int64{1, 2}},
		{Name: "label", Type: TypeString, Dict: []string{"a", "b"}, Codes: []uint32{0, 1}},
		{Name: "uid", Type: TypeString, Dict: []string{"x", "y"}, Codes: []uint32{0, 1}},
		{Name: "pkt", Type: TypeI64, I64: []int64{1, 2}},
		{Name: "kind", Type: TypeString, Dict: []string{"k"}, Codes: []uint32{0, 0}},
	}}
	fields := []Field{
		{Name: "pkt", Role: RoleFeature, Encoder: "continuous"},
		{Name: "absent", Role: RoleFeature, Encoder: "continuous"},
		{Name: "ts", Role: RoleTime, Encoder: "time"},
		{Name: "kind", Role: RoleAttribute, Encoder: "categorical"},
	}
	strs := &StringDefault{Field: Field{Role: RoleFeature, Encoder: "categorical", Params: map[string]any{"unseen": "other"}}, MaxValues: 1}
	for _, tc := range []struct {
		name string
		d    FieldDefaults
		want []string
	}{
		{"fields in their order, absent columns skipped", FieldDefaults{Fields: fields}, []string{"pkt", "ts", "kind"}},
		{"then small string columns not named", FieldDefaults{Fields: fields[:3], Strings: &StringDefault{Field: strs.Field, MaxValues: 2}}, []string{"pkt", "ts", "label", "uid", "kind"}},
		{"string columns over the bound are left out", FieldDefaults{Fields: fields, Strings: strs}, []string{"pkt", "ts", "kind"}},
		{"no fields", FieldDefaults{}, nil},
	} {
		got := tc.d.Apply(records)
		var names []string
		for _, f := range got {
			names = append(names, f.Name)
			if f.Encoder == "" || f.Role == "" {
				t.Errorf("%s: field %q without role or encoder", tc.name, f.Name)
			}
		}
		if !reflect.DeepEqual(names, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, names, tc.want)
		}
	}
}
