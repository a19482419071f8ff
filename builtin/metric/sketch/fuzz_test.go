package sketch

import (
	"testing"

	"github.com/netshare/netshare/builtin/metric/internal/metrictest"
	"github.com/netshare/netshare/builtin/metric/internal/ml/mltest"
)

// Any batches, whatever their columns, types and values, get scores or an
// error from the metric, never a panic.
func FuzzSketch(f *testing.F) {
	f.Add([]byte{5, 0, 3, 1, 1, 2, 4, 9, 1, 20, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7})
	f.Add([]byte("\x07\x00\x03\x01\x01\x02\x04\x06\x0a\x07\x06\x0c\x07\x02\x1f the quick brown fox jumps over the lazy dog 0123456789"))
	f.Add([]byte("\x03\x0a\x07\x0b\x07\x0d\x02\x03\x27abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		real, syn := mltest.FuzzTables(data)
		_, err := metrictest.Run("sketch", map[string]any{}, real, syn)
		mltest.NoPanic(t, err)
	})
}
