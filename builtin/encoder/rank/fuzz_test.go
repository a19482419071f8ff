package rank

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// FuzzLoadDecode: any state either loads or errors; a loaded state
// decodes any rows of its layout without panicking, into its own type and
// only into values the state holds, and encodes what it decoded back to
// the same values.
func FuzzLoadDecode(f *testing.F) {
	f.Add([]byte(`{"type":"u16","popular":[80,443],"values":[1000,2000,65535],"weights":[3,1,2]}`), 0.3, 0.9)
	f.Add([]byte(`{"type":"u8","values":[6],"weights":[1]}`), 0.5, -1.0)
	f.Add([]byte(`{"type":"i64","popular":[-5],"values":[-9223372036854775808,9223372036854775807],"weights":[1,1]}`), 1.0, 0.0)
	f.Add([]byte(`{"type":"u32","popular":[7]}`), 1.0, 0.0)
	f.Add([]byte(`{"type":"u16","popular":[80],"heavy":[11,9],"heavy_weights":[10,30],"values":[100,200],"weights":[1,1]}`), 0.7, 0.2)
	f.Add([]byte(`{"type":"u16","heavy":[9],"heavy_weights":[3]}`), 0.1, 0.9)
	f.Fuzz(func(t *testing.T, raw []byte, x, y float64) {
		e, err := New(sdk.Env{Column: "c", Params: sdk.Params{"min_flows": int64(5), "max_popular": int64(256), abi.ParamPrivate: false}})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := e.Load(raw)
		if err != nil {
			return
		}
		var st state
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		held := map[int64]bool{}
		for _, v := range slices.Concat(st.Popular, st.Heavy, st.Values) {
			held[v] = true
		}
		w := abi.Width(outs)
		dense := make([]float64, 2*w)
		dense[0], dense[2*w-1] = x, y
		m := sdktest.Sparse(outs, dense)
		b, err := e.Decode(m)
		if err != nil {
			t.Fatalf("decoding %v: %v", dense, err)
		}
		if err := b.Check(); err != nil {
			t.Fatalf("decoded an inconsistent batch: %v", err)
		}
		c := &b.Columns[0]
		if c.Type.String() != st.Type {
			t.Fatalf("decoded a %s column from state %s", c.Type, raw)
		}
		vals := []int64{c.Int(0), c.Int(1)}
		for _, v := range vals {
			if !held[v] {
				t.Fatalf("decoded %d, which state %s does not hold", v, raw)
			}
		}
		hot, vw := abi.Layout(outs)
		m2 := &abi.Encoded{Rows: 2, HotWidth: hot, ValueWidth: vw, Hot: make([]uint32, 2*hot), Values: make([]float64, 2*vw)}
		if err := e.Encode(b, m2); err != nil {
			t.Fatalf("encoding what was decoded: %v", err)
		}
		b2, err := e.Decode(m2)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if b2.Columns[0].Int(i) != v {
				t.Fatalf("row %d: %d re-encoded decodes to %d", i, v, b2.Columns[0].Int(i))
			}
		}
		if hot > 0 {
			m.Hot[1] = uint32(outs[0].Width)
			if _, err := e.Decode(m); err == nil {
				t.Fatalf("index %d of width %d decoded", m.Hot[1], outs[0].Width)
			}
		}
	})
}
