package mixed

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// FuzzLoadDecode: any state either loads or errors; a loaded state
// decodes any mode and scalar without panicking, into its own type and
// inside its modes, and encodes what it decoded back to the same mode
// (or to a spike's, when a range decodes to one).
func FuzzLoadDecode(f *testing.F) {
	f.Add([]byte(`{"type":"u16","spikes":[52,1500],"ranges":[[20,51],[53,1400]]}`), uint32(3), 0.3)
	f.Add([]byte(`{"type":"f64","log1p":true,"spikes":[0],"ranges":[[0.001,600]]}`), uint32(1), 2.0)
	f.Add([]byte(`{"type":"i64","log1p":true,"ranges":[[1,1000000]]}`), uint32(0), 0.5)
	f.Add([]byte(`{"type":"u8","spikes":[0,64,128]}`), uint32(2), -1.0)
	f.Add([]byte(`{"type":"u16","spikes":[52],"ranges":[[20,51],[53,1400]],"quantiles":[[20,30,30,51],[53,60,900,1400]]}`), uint32(2), 0.4)
	f.Add([]byte(`{"type":"f64","log1p":true,"ranges":[[0,1e9]],"quantiles":[[0,10,1e4,1e9]]}`), uint32(0), 0.99)
	f.Fuzz(func(t *testing.T, raw []byte, mode uint32, v float64) {
		fe, err := New(sdk.Env{Column: "c", Params: sdk.Params{"log1p": false, "modes": ModesAuto, "private": false}})
		if err != nil {
			t.Fatal(err)
		}
		e := fe.(*Encoder)
		outs, err := e.Load(raw)
		if err != nil {
			return
		}
		var st state
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		modes := len(st.Spikes) + len(st.Ranges)
		hot, _ := abi.Layout(outs)
		in := &abi.Encoded{Rows: 1, HotWidth: hot, ValueWidth: 1, Values: []float64{v}}
		m := 0
		if hot == 1 {
			m = int(mode % uint32(modes))
			in.Hot = []uint32{uint32(m)}
		}
		b, err := e.Decode(in)
		if math.IsNaN(v) {
			if err == nil {
				t.Fatal("a NaN row decoded")
			}
			return
		}
		if err != nil {
			t.Fatalf("decoding mode %d value %v: %v", m, v, err)
		}
		if err := b.Check(); err != nil {
			t.Fatalf("decoded an inconsistent batch: %v", err)
		}
		c := &b.Columns[0]
		if c.Type.String() != st.Type {
			t.Fatalf("decoded a %s column from state %s", c.Type, raw)
		}
		x := c.Float(0)
		if m < len(st.Spikes) {
			if x != st.Spikes[m] {
				t.Fatalf("spike mode %d decoded %v, want %v", m, x, st.Spikes[m])
			}
		} else if r := st.Ranges[m-len(st.Spikes)]; x < r[0] || x > r[1] {
			t.Fatalf("range mode %v decoded %v", r, x)
		}
		out := &abi.Encoded{Rows: 1, HotWidth: hot, ValueWidth: 1, Hot: make([]uint32, hot), Values: make([]float64, 1)}
		if err := e.Encode(b, out); err != nil {
			t.Fatalf("encoding decoded %v: %v", x, err)
		}
		// A range spanning a spike may decode to the spike's value.
		if _, spike := slices.BinarySearch(st.Spikes, x); hot == 1 && int(out.Hot[0]) != m && !spike {
			t.Fatalf("mode %d decoded %v, which encodes to mode %d", m, x, out.Hot[0])
		}
		// An index past the modes is an error, not a panic.
		if hot == 1 {
			in.Hot[0] = uint32(modes)
			if _, err := e.Decode(in); err == nil {
				t.Fatalf("mode %d of %d decoded", modes, modes)
			}
		}
	})
}
