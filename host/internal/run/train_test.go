package run

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestChunksIndependentOfWorkers trains the later chunks one at a time
// and two at once: each chunk forks chunk 0's final model with its own
// seed, so the synthetic records are the same.
func TestChunksIndependentOfWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	gen := func(workers string) []byte {
		dir := t.TempDir()
		if _, err := Run(context.Background(), tinyConfig(t, dir, "flows.chunks=3", "model.workers="+workers), Options{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "generated", "records.bin"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(gen("1"), gen("2")) {
		t.Fatal("the synthetic records depend on how many chunks train at once")
	}
}
