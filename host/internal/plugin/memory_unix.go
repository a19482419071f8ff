//go:build unix

package plugin

import (
	"math"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// mmapMemory backs a module's linear memory with an anonymous mapping of
// its whole memory cap, reserved up front. Growing the memory then never
// moves or copies it (wazero's default grows a Go slice, copying gigabytes
// over a long run and handing the host's collector a heap it must scan),
// and the kernel commits only the pages the module touches.
type mmapMemory struct{ buf []byte }

func newMemoryAllocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		if max > math.MaxInt {
			return &sliceMemory{} // a 32-bit host cannot map a 4 GiB cap
		}
		b, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
		if err != nil {
			// No address space for the reservation: wazero's growable slice.
			return &sliceMemory{}
		}
		return &mmapMemory{buf: b}
	})
}

func (m *mmapMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(m.buf)) {
		return nil
	}
	return m.buf[:size]
}

func (m *mmapMemory) Free() {
	if m.buf != nil {
		syscall.Munmap(m.buf[:cap(m.buf)])
		m.buf = nil
	}
}
