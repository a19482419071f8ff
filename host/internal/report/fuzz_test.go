package report

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzMetricsFile feeds arbitrary metrics.json content through the reader
// and the renderer: either the reader refuses it with an error, or the
// report renders; nothing panics.
func FuzzMetricsFile(f *testing.F) {
	good, _ := json.Marshal(NewMetricsFile(sampleData()))
	f.Add(good)
	f.Add([]byte(`{"version":1,"metrics":{"a":1}}`))
	f.Add([]byte(`{"version":1,"scores":[{"name":"a","value":1e308,"series":[{"kind":"histogram","x":[0],"real":[-1],"synthetic":[2],"labels":["<"]}]}]}`))
	f.Add([]byte(`{"version":1,"scores":[{"name":"a","value":-5,"x_log":true,"series":[{"kind":"cdf","x":[-3,-3,1e300],"real":[0,0,1],"synthetic":[1,1,1]}]}]}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "metrics.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mf, err := ReadMetricsFile(path)
		if err != nil {
			return
		}
		if err := Write(io.Discard, mf.Data); err != nil && len(mf.Scores) > 0 {
			t.Fatalf("render: %v", err)
		}
	})
}
