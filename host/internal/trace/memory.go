package trace

import (
	"fmt"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/memguard"
)

// memoryCheck projects, while a file is read, the memory its records will
// take once it is read whole, and stops the read early when that would not
// fit (memguard): at a twentieth of a 10 GB trace rather than at the end.
type memoryCheck struct {
	path        string
	size        int64 // the file's size; 0 when unknown (no check)
	every, next int64
}

// checkEvery is how many bytes are read between checks: a check reads
// /proc, cheap beside decoding this much. checkFrom is the least read
// before extrapolating: it covers the decoder's start-up. Variables so a
// test can read a small file.
var checkEvery, checkFrom int64 = 16 << 20, 32 << 20

func newMemoryCheck(path string, size int64) *memoryCheck {
	return &memoryCheck{path: path, size: size, every: checkEvery, next: checkEvery}
}

// check is called with the bytes of the file read so far and the records
// they made.
func (m *memoryCheck) check(offset int64, b *abi.Batch) error {
	if m.size <= 0 || offset < m.next {
		return nil
	}
	m.next = offset + m.every
	// A twentieth of the file is enough to extrapolate from. The records'
	// own size (their columns' capacity, as appended) is what grows; the
	// garbage decoding leaves is the collector's and does not add up.
	min := max(m.size/20, checkFrom)
	if err := memguard.Project(fmt.Sprintf("reading %s (%s; %s read)", m.path, memguard.Size(m.size), memguard.Size(offset)),
		batchBytes(b), offset, m.size, min); err != nil {
		return fmt.Errorf("read trace: %w", err)
	}
	return nil
}

// batchBytes is the memory a batch's columns hold.
func batchBytes(b *abi.Batch) int64 {
	var n int64
	for i := range b.Columns {
		c := &b.Columns[i]
		n += int64(cap(c.U8)) + 2*int64(cap(c.U16)) + 4*int64(cap(c.U32)) + 8*int64(cap(c.I64)) +
			8*int64(cap(c.F64)) + 4*int64(cap(c.Codes))
		for _, s := range c.Dict {
			n += int64(len(s)) + 16
		}
	}
	return n
}
