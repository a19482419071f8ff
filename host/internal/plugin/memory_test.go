package plugin

import (
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

// Both linear memories keep their contents as they grow, and the mapped
// one refuses to grow past its reservation (the module's memory cap).
func TestLinearMemory(t *testing.T) {
	const max = 4 << 16
	for _, tc := range []struct {
		name    string
		m       experimental.LinearMemory
		bounded bool
	}{
		{"mmap", newMemoryAllocator().Allocate(0, max), true},
		{"slice", &sliceMemory{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.m.Free()
			b := tc.m.Reallocate(1 << 16)
			if len(b) != 1<<16 {
				t.Fatalf("len %d", len(b))
			}
			b[100] = 42
			b = tc.m.Reallocate(3 << 16)
			if len(b) != 3<<16 || b[100] != 42 || b[len(b)-1] != 0 {
				t.Fatalf("after growing: len %d, b[100] = %d", len(b), b[100])
			}
			if tc.bounded && tc.m.Reallocate(max+1) != nil {
				t.Fatal("grew past the reservation")
			}
		})
	}
}
