//go:build !unix

package plugin

import "github.com/tetratelabs/wazero/experimental"

func newMemoryAllocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, _ uint64) experimental.LinearMemory { return &sliceMemory{} })
}
