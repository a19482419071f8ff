package classify

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/netshare/netshare/builtin/metric/internal/metrictest"
	"github.com/netshare/netshare/builtin/metric/internal/ml/mltest"
)

func TestZZSlow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var worst time.Duration
	var worstData []byte
	for range 3000 {
		data := make([]byte, rng.IntN(600))
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		real, syn := mltest.FuzzTables(data)
		st := time.Now()
		metrictest.Run("classify", map[string]any{}, real, syn)
		if d := time.Since(st); d > worst {
			worst, worstData = d, data
		}
	}
	t.Logf("worst %v for %x", worst, worstData[:min(40, len(worstData))])
}
