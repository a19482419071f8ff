package categorical

import (
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// FuzzLoadDecode: any state either loads or errors, and a loaded state
// decodes any matrix of its width without panicking, into its own type.
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
		m := &abi.Matrix{Rows: 2, Cols: w, Data: make([]float64, 2*w)}
		m.Data[0], m.Data[2*w-1] = x, y
		b, err := e.Decode(m)
		if err != nil {
			return
		}
		if err := b.Check(); err != nil {
			t.Fatalf("decoded an inconsistent batch: %v", err)
		}
	})
}
