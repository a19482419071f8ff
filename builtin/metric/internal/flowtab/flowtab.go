// Package flowtab groups records into flows by a key of columns (the
// 5-tuple, usually) for the metrics that score per-flow quantities:
// records per flow, per-flow means, inter-arrival times within a flow.
package flowtab

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
)

// Table numbers distinct keys 0, 1, 2, … in order of first sight. It is an
// open-addressing hash table over a byte arena rather than a map[string]:
// a million flows then cost a few tens of MB and no allocation per flow,
// which matters in the Wasm module's capped memory.
type Table struct {
	arena  []byte   // every key's bytes, back to back
	ends   []uint32 // ends[i]: end of flow i's key in arena
	hashes []uint64 // hashes[i]: hash of flow i's key
	slots  []int32  // flow index + 1; 0 is empty
	buf    []byte   // scratch key encodings, reused
}

// Len is the number of distinct keys seen.
func (t *Table) Len() int { return len(t.hashes) }

// Find returns the index of key's flow (h = HashKey(key)), adding a new
// flow if it is new: the new index is Len()-1 on return.
func (t *Table) Find(key []byte, h uint64) int {
	if 2*(len(t.hashes)+1) > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			id := len(t.hashes)
			t.arena = append(t.arena, key...)
			t.ends = append(t.ends, uint32(len(t.arena)))
			t.hashes = append(t.hashes, h)
			t.slots[i] = int32(id + 1)
			return id
		}
		id := int(s - 1)
		if t.hashes[id] == h && string(t.Key(id)) == string(key) {
			return id
		}
	}
}

// Key is flow id's key bytes.
func (t *Table) Key(id int) []byte {
	start := uint32(0)
	if id > 0 {
		start = t.ends[id-1]
	}
	return t.arena[start:t.ends[id]]
}

// grow doubles the slot table (at least 1024) and re-inserts every flow.
func (t *Table) grow() {
	n := max(1024, 2*len(t.slots))
	t.slots = make([]int32, n)
	mask := uint64(n - 1)
	for id, h := range t.hashes {
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = int32(id + 1)
	}
}

// Rows appends to dst the flow index of every row of the key columns cols
// (all of one batch's length), adding flows as they first appear.
func (t *Table) Rows(dst []int32, cols []*abi.Column) []int32 {
	if len(cols) == 0 {
		return dst
	}
	rows := cols[0].Len()
	if w := KeyWidth(cols); w > 0 {
		// Fixed-width keys (the 5-tuple): lay every row's key out column
		// by column, tight loops rather than a type switch per value.
		t.buf = slices.Grow(t.buf[:0], rows*w)[:rows*w]
		FillKeys(t.buf, cols, w)
		for r := 0; r < rows; r++ {
			key := t.buf[r*w : (r+1)*w]
			dst = append(dst, int32(t.Find(key, HashKey(key))))
		}
		return dst
	}
	for r := 0; r < rows; r++ {
		t.buf = abi.AppendKey(t.buf[:0], cols, r)
		dst = append(dst, int32(t.Find(t.buf, HashKey(t.buf))))
	}
	return dst
}

// HashKey mixes the key eight bytes at a time (few steps per key, which
// counts in Wasm), with a final avalanche so that keys differing only in
// low bytes spread over the table.
func HashKey(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0xff51afd7ed558ccd
		h ^= h >> 32
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// KeyWidth is the bytes per row of a key of fixed-width columns, or 0 when
// a string column makes the width vary.
func KeyWidth(cols []*abi.Column) int {
	w := 0
	for _, c := range cols {
		switch c.Type {
		case abi.TypeU8:
			w++
		case abi.TypeU16:
			w += 2
		case abi.TypeU32, abi.TypeIPv4:
			w += 4
		case abi.TypeI64, abi.TypeTime, abi.TypeF64:
			w += 8
		default:
			return 0
		}
	}
	return w
}

// FillKeys writes each row's key into dst (w bytes a row), in the same
// encoding as abi.AppendKey.
func FillKeys(dst []byte, cols []*abi.Column, w int) {
	off := 0
	for _, c := range cols {
		switch c.Type {
		case abi.TypeU8:
			for r, v := range c.U8 {
				dst[r*w+off] = v
			}
			off++
		case abi.TypeU16:
			for r, v := range c.U16 {
				binary.LittleEndian.PutUint16(dst[r*w+off:], v)
			}
			off += 2
		case abi.TypeU32, abi.TypeIPv4:
			for r, v := range c.U32 {
				binary.LittleEndian.PutUint32(dst[r*w+off:], v)
			}
			off += 4
		case abi.TypeI64, abi.TypeTime:
			for r, v := range c.I64 {
				binary.LittleEndian.PutUint64(dst[r*w+off:], uint64(v))
			}
			off += 8
		case abi.TypeF64:
			for r, v := range c.F64 {
				binary.LittleEndian.PutUint64(dst[r*w+off:], math.Float64bits(v))
			}
			off += 8
		}
	}
}
