package progress

import (
	"bytes"
	"testing"
)

func TestQuietWhenNotATerminal(t *testing.T) {
	var b bytes.Buffer
	l := New(&b)
	l.Update("step %d", 1)
	l.Done("train: done")
	if got := b.String(); got != "train: done\n" {
		t.Fatalf("got %q", got)
	}
}

func TestETA(t *testing.T) {
	for _, tt := range []struct {
		done, total int
		rate        float64
		want        string
	}{
		{0, 100, 10, "10s"}, {50, 100, 0, "-"}, {100, 100, 5, "-"}, {0, 7200, 1, "2h0m0s"},
	} {
		if got := ETA(tt.done, tt.total, tt.rate); got != tt.want {
			t.Errorf("ETA(%d,%d,%g) = %s, want %s", tt.done, tt.total, tt.rate, got, tt.want)
		}
	}
}
