package word2vec

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk/sdktest"
)

// BenchmarkGenerated decodes a trained generator's own word2vec outputs:
// W2V_GENERATED names a dump of a generated attribute tensor, PREFIX.json
// ({"n": flows, "outputs": [{"name", "width"}...]}) beside PREFIX.f32 (the
// n rows, little-endian float32), and W2V_ENCODERS the run's
// encoders.json. For each word2vec field it reports ns/row of exact
// search and of each approx bound, and the share of rows decoded as exact
// search decodes them. Without the variables it is skipped.
func BenchmarkGenerated(b *testing.B) {
	prefix, encPath := os.Getenv("W2V_GENERATED"), os.Getenv("W2V_ENCODERS")
	if prefix == "" || encPath == "" {
		b.Skip("W2V_GENERATED and W2V_ENCODERS name no dump")
	}
	var hdr struct {
		N       int `json:"n"`
		Outputs []struct {
			Name  string
			Width int
		} `json:"outputs"`
	}
	readJSON(b, prefix+".json", &hdr)
	raw, err := os.ReadFile(prefix + ".f32")
	if err != nil {
		b.Fatal(err)
	}
	var enc struct {
		Fields []struct {
			Name, Encoder string
			State         string `json:"state"`
		} `json:"fields"`
	}
	readJSON(b, encPath, &enc)
	width := 0
	for _, o := range hdr.Outputs {
		width += o.Width
	}
	if len(raw) != 4*hdr.N*width {
		b.Fatalf("%s.f32 holds %d bytes, want %d flows × %d floats", prefix, len(raw), hdr.N, width)
	}
	for _, f := range enc.Fields {
		if f.Encoder != "word2vec" {
			continue
		}
		st, err := base64.StdEncoding.DecodeString(f.State)
		if err != nil {
			b.Fatal(err)
		}
		off, w := -1, 0
		for _, o := range hdr.Outputs {
			if o.Name == f.Name {
				off = w
			}
			w += o.Width
		}
		if off < 0 {
			b.Fatalf("the dump has no output %q", f.Name)
		}
		exact := loadBench(b, f.Name, st, decodeVariant{})
		d := exact.dim
		q := &abi.Encoded{Rows: hdr.N, ValueWidth: d, Values: make([]float64, hdr.N*d)}
		for i := 0; i < hdr.N; i++ {
			for k := 0; k < d; k++ {
				q.Values[i*d+k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(i*width+off+k):])))
			}
		}
		want := decodeAll(b, exact, q)
		// How close the generator comes to the values: the mean cosine
		// of a row with the value exact search picks.
		var cos float64
		for i, v := range want {
			cos += 1 - valueDist2(exact, q.Values[i*d:i*d+d], v)/2
		}
		cos /= float64(hdr.N)
		for _, v := range decodeVariants {
			e := loadBench(b, f.Name, st, v)
			b.Run(f.Name+"/"+v.name, func(b *testing.B) {
				var got []int64
				c0 := sdktest.CPUTime()
				for range b.N {
					got = decodeAll(b, e, q)
				}
				reportRows(b, b.N*hdr.N, sdktest.CPUTime()-c0)
				agree, ratio := 0, 1.0
				for i := range got {
					if got[i] == want[i] {
						agree++
						continue
					}
					row := q.Values[i*d : i*d+d]
					ratio = max(ratio, math.Sqrt(valueDist2(exact, row, got[i])/valueDist2(exact, row, want[i])))
				}
				b.ReportMetric(100*float64(agree)/float64(hdr.N), "%agree")
				b.ReportMetric(ratio, "ratio")
				b.ReportMetric(float64(len(e.tree.key)), "values")
				b.ReportMetric(cos, "cos")
			})
		}
		// As before fields decoded into their own values only: exact
		// search over every value of the kind, from the state without its
		// column token sets. "foreign" is the share of rows decoded to a
		// value the field never holds.
		wide := loadBench(b, f.Name, withoutColumnTokens(b, st), decodeVariant{})
		b.Run(f.Name+"/exact-kindwide", func(b *testing.B) {
			var got []int64
			c0 := sdktest.CPUTime()
			for range b.N {
				got = decodeAll(b, wide, q)
			}
			reportRows(b, b.N*hdr.N, sdktest.CPUTime()-c0)
			own := map[int64]bool{}
			for _, v := range exact.tree.key {
				own[v] = true
			}
			agree, foreign := 0, 0
			for i := range got {
				if got[i] == want[i] {
					agree++
				}
				if !own[got[i]] {
					foreign++
				}
			}
			b.ReportMetric(100*float64(agree)/float64(hdr.N), "%agree")
			b.ReportMetric(100*float64(foreign)/float64(hdr.N), "%foreign")
			b.ReportMetric(float64(len(wide.tree.key)), "values")
		})
	}
}

// withoutColumnTokens is state st as written before states recorded each
// column's tokens.
func withoutColumnTokens(tb testing.TB, st []byte) []byte {
	var raw map[string]any
	if err := json.Unmarshal(st, &raw); err != nil {
		tb.Fatal(err)
	}
	for _, c := range raw["columns"].(map[string]any) {
		delete(c.(map[string]any), "tokens")
	}
	old, err := json.Marshal(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return old
}

func readJSON(b *testing.B, path string, v any) {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		b.Fatalf("%s: %v", path, err)
	}
}
