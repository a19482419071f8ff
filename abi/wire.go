package abi

import (
	"encoding/binary"
	"unsafe"
)

// The bulk copies below reinterpret memory when the machine is little-endian
// (amd64, arm64, wasm: every platform netshare runs on), which makes moving a
// million values a memcpy instead of a loop; other machines take the loop.

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func asBytes[T uint16 | uint32 | uint64](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

func appendU16s(dst []byte, s []uint16) []byte {
	if littleEndian {
		return append(dst, asBytes(s)...)
	}
	for _, v := range s {
		dst = binary.LittleEndian.AppendUint16(dst, v)
	}
	return dst
}

func appendU32s(dst []byte, s []uint32) []byte {
	if littleEndian {
		return append(dst, asBytes(s)...)
	}
	for _, v := range s {
		dst = binary.LittleEndian.AppendUint32(dst, v)
	}
	return dst
}

func appendU64s(dst []byte, s []uint64) []byte {
	if littleEndian {
		return append(dst, asBytes(s)...)
	}
	for _, v := range s {
		dst = binary.LittleEndian.AppendUint64(dst, v)
	}
	return dst
}

func readU16s(b []byte) []uint16 {
	s := make([]uint16, len(b)/2)
	if littleEndian {
		copy(asBytes(s), b)
		return s
	}
	for i := range s {
		s[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return s
}

func readU32s(b []byte) []uint32 {
	s := make([]uint32, len(b)/4)
	if littleEndian {
		copy(asBytes(s), b)
		return s
	}
	for i := range s {
		s[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return s
}

func readU64s(b []byte) []uint64 {
	s := make([]uint64, len(b)/8)
	if littleEndian {
		copy(asBytes(s), b)
		return s
	}
	for i := range s {
		s[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return s
}

// The conversions between int64/float64 and uint64 slices share memory; the
// element sizes are equal so this is a view, not a copy.
func i64bits(s []int64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&s[0])), len(s))
}

func bitsI64(s []uint64) []int64 {
	if len(s) == 0 {
		return []int64{}
	}
	return unsafe.Slice((*int64)(unsafe.Pointer(&s[0])), len(s))
}

// f64bits is math.Float64bits over a whole slice, without a copy.
func f64bits(s []float64) []uint64 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&s[0])), len(s))
}

// bitsF64 is math.Float64frombits over a whole slice, without a copy.
func bitsF64(s []uint64) []float64 {
	if len(s) == 0 {
		return []float64{}
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&s[0])), len(s))
}
