package categorical

import (
	"encoding/json"
	"testing"

	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

func typeOf(state []byte) string {
	var st struct{ Type string }
	_ = json.Unmarshal(state, &st)
	return st.Type
}

// FuzzLoadDecode: any state either loads or errors, and a loaded state
// decodes any rows of its width without panicking, into its own type,
// whether the host's argmax or out-of-range indices arrive.
func FuzzLoadDecode(f *testing.F) {
	f.Add([]byte(`{"type":"u8","ints":[0,1,2],"other":true,"other_value":"255"}`), 0.3, 0.9)
	f.Add([]byte(`{"type":"string","values":["a","b"],"other":false}`), 0.5, 0.5)
	f.Add([]byte(`{"type":"u8","ints":[300]}`), 1.0, 0.0)
	f.Add([]byte(`{"type":"f64","ints":[1]}`), 1.0, 0.0)
	f.Fuzz(func(t *testing.T, state []byte, x, y float64) {
		e, err := New(sdk.Env{Column: "c", Params: sdk.Params{"unseen": "error", "private": false}})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := e.Load(state)
		if err != nil {
			return
		}
		w := outs[0].Width
		dense := make([]float64, 2*w)
		dense[0], dense[2*w-1] = x, y
		m := sdktest.Sparse(outs, dense)
		b, err := e.Decode(m)
		if err != nil {
			t.Fatalf("decoding the argmax of %v: %v", dense, err)
		}
		if err := b.Check(); err != nil {
			t.Fatalf("decoded an inconsistent batch: %v", err)
		}
		if b.Columns[0].Type.String() != typeOf(state) {
			t.Fatalf("decoded a %s column from state %s", b.Columns[0].Type, state)
		}
		// Indices the sdk would refuse are errors here too, not panics.
		m.Hot[1] = uint32(w)
		if _, err := e.Decode(m); err == nil {
			t.Fatalf("index %d of width %d decoded", m.Hot[1], w)
		}
	})
}
