package abi

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Encoded is a block of rows of one field's encoding, as it crosses the
// boundary. The GAN sees each row as the concatenation of the encoder's
// outputs; on the wire a discrete output (a one-hot vector the GAN makes
// through softmax) travels as the index of its hot position, and a
// continuous output as its values. The host expands the indices into
// one-hot vectors when it builds tensors and takes the argmax of generated
// ones (lowest index on ties) before it asks for a decode: an encoder never
// handles the wide form, which is most of the data (an IPv4 address is 64
// softmax values and 32 indices).
type Encoded struct {
	Rows int
	// HotWidth is the number of discrete outputs, ValueWidth the summed
	// width of the continuous ones (Layout computes both).
	HotWidth, ValueWidth int
	// Hot holds Rows×HotWidth indices, Values Rows×ValueWidth values, both
	// row-major, each row's outputs in the order the encoder lists them.
	Hot    []uint32
	Values []float64
}

// Layout returns the per-row index and value counts of a list of outputs.
func Layout(outs []Output) (hot, values int) {
	for _, o := range outs {
		if o.Discrete {
			hot++
		} else {
			values += o.Width
		}
	}
	return hot, values
}

// Width is the summed width of outs: the GAN's view of one row.
func Width(outs []Output) int {
	w := 0
	for _, o := range outs {
		w += o.Width
	}
	return w
}

// HotRow returns row i's indices.
func (e *Encoded) HotRow(i int) []uint32 { return e.Hot[i*e.HotWidth : (i+1)*e.HotWidth] }

// ValueRow returns row i's values.
func (e *Encoded) ValueRow(i int) []float64 { return e.Values[i*e.ValueWidth : (i+1)*e.ValueWidth] }

// Check verifies the slices' lengths and that every index is inside its
// output's width.
func (e *Encoded) Check(outs []Output) error {
	hot, values := Layout(outs)
	if e.HotWidth != hot || e.ValueWidth != values {
		return fmt.Errorf("encoded rows have %d indices and %d values each, the outputs %d and %d", e.HotWidth, e.ValueWidth, hot, values)
	}
	if len(e.Hot) != e.Rows*hot || len(e.Values) != e.Rows*values {
		return fmt.Errorf("%d encoded rows hold %d indices and %d values, want %d and %d", e.Rows, len(e.Hot), len(e.Values), e.Rows*hot, e.Rows*values)
	}
	if hot == 0 {
		return nil
	}
	widths := make([]uint32, 0, hot)
	narrowest := ^uint32(0)
	for _, o := range outs {
		if o.Discrete {
			widths = append(widths, uint32(o.Width))
			narrowest = min(narrowest, uint32(o.Width))
		}
	}
	// Every index is at most the OR of all of them: when that is inside
	// the narrowest output, all are fine, found in one cheap pass (this
	// runs on every decode inside the sandbox). Otherwise look closer.
	if orAll(e.Hot) < narrowest {
		return nil
	}
	for i := 0; i < e.Rows; i++ {
		for k, x := range e.Hot[i*hot : (i+1)*hot] {
			if x >= widths[k] {
				return fmt.Errorf("row %d output %q: index %d outside its width %d", i, discreteName(outs, k), x, widths[k])
			}
		}
	}
	return nil
}

func discreteName(outs []Output, k int) string {
	for _, o := range outs {
		if o.Discrete {
			if k == 0 {
				return o.Name
			}
			k--
		}
	}
	return ""
}

// Wire layout of encoded rows (little-endian):
//
//	u32 rows | u32 hot width | u32 value width | u32 0 |
//	rows × hot width u32 | zero padding to a multiple of 8 | rows × value width f64

// EncodedSize is the wire size of rows with the given widths.
func EncodedSize(rows, hot, values int) int {
	h := 4 * rows * hot
	return 16 + h + Pad(h) + 8*rows*values
}

// AppendEncoded appends the wire form of e.
func AppendEncoded(dst []byte, e *Encoded) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(e.Rows))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(e.HotWidth))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(e.ValueWidth))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = appendU32s(dst, e.Hot)
	dst = append(dst, zeros[:Pad(4*len(e.Hot))]...)
	return appendU64s(dst, f64bits(e.Values))
}

// PlaceEncoded writes the wire header of rows with the given widths at the
// start of buf, which must hold EncodedSize bytes, and returns an Encoded
// whose slices are buf's own memory where buf is 8-aligned (so filling
// them fills the wire form in place) and fresh slices otherwise, which
// Sync then copies into buf.
func PlaceEncoded(buf []byte, rows, hot, values int) *Encoded {
	binary.LittleEndian.PutUint32(buf, uint32(rows))
	binary.LittleEndian.PutUint32(buf[4:], uint32(hot))
	binary.LittleEndian.PutUint32(buf[8:], uint32(values))
	binary.LittleEndian.PutUint32(buf[12:], 0)
	h := 4 * rows * hot
	clear(buf[16+h : 16+h+Pad(h)])
	e := &Encoded{Rows: rows, HotWidth: hot, ValueWidth: values}
	e.Hot = viewU32s(buf[16:16+h], rows*hot)
	e.Values = viewF64s(buf[16+h+Pad(h):EncodedSize(rows, hot, values)], rows*values)
	return e
}

// SyncEncoded copies e into buf when PlaceEncoded could not place it there.
func SyncEncoded(buf []byte, e *Encoded) {
	h := 4 * len(e.Hot)
	hb, vb := buf[16:16+h], buf[16+h+Pad(h):]
	if len(e.Hot) > 0 && &hb[0] != (*byte)(unsafe.Pointer(&e.Hot[0])) {
		copy(hb, appendU32s(nil, e.Hot))
	}
	if len(e.Values) > 0 && &vb[0] != (*byte)(unsafe.Pointer(&e.Values[0])) {
		copy(vb, appendU64s(nil, f64bits(e.Values)))
	}
}

// DecodeEncoded parses encoded rows from src, which must hold exactly
// their wire form. Where src is 8-aligned the result's slices are views of
// src (valid while src is); otherwise they are copies.
func DecodeEncoded(src []byte) (*Encoded, error) {
	r := reader{buf: src}
	rows, hot, values := r.u32(), r.u32(), r.u32()
	reserved := r.u32()
	if r.err != nil {
		return nil, malformed("encoded rows header: %v", r.err)
	}
	if reserved != 0 {
		return nil, malformed("encoded rows header: reserved word is %d, want 0", reserved)
	}
	nh, nv := uint64(rows)*uint64(hot), uint64(rows)*uint64(values)
	if hb := 4 * nh; 16+hb+uint64(Pad(int(hb%8)))+8*nv != uint64(len(src)) {
		return nil, malformed("%d encoded rows of %d indices and %d values need %d bytes, have %d", rows, hot, values, 16+hb+uint64(Pad(int(hb%8)))+8*nv, len(src))
	}
	h := int(4 * nh)
	for _, b := range src[16+h : 16+h+Pad(h)] {
		if b != 0 {
			return nil, malformed("encoded rows: nonzero padding after the indices")
		}
	}
	return &Encoded{
		Rows: int(rows), HotWidth: int(hot), ValueWidth: int(values),
		Hot:    viewU32s(src[16:16+h], int(nh)),
		Values: viewF64s(src[16+h+Pad(h):], int(nv)),
	}, nil
}

// viewU32s and viewF64s read n numbers from b in place when b is aligned
// for them on a little-endian machine, and copy them otherwise.
func viewU32s(b []byte, n int) []uint32 {
	if n == 0 {
		return []uint32{}
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n)
	}
	return readU32s(b[:4*n])
}

func viewF64s(b []byte, n int) []float64 {
	if n == 0 {
		return []float64{}
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%8 == 0 {
		return unsafe.Slice((*float64)(unsafe.Pointer(&b[0])), n)
	}
	return bitsF64(readU64s(b[:8*n]))
}

// orAll is the bitwise OR of s, read eight bytes at a time and four words
// a step: inside the sandbox a loop step costs more than the OR, and this
// runs over every index of every decode.
func orAll(s []uint32) uint32 {
	var acc uint64
	if len(s) >= 2 && uintptr(unsafe.Pointer(&s[0]))%8 == 0 {
		w := unsafe.Slice((*uint64)(unsafe.Pointer(&s[0])), len(s)/2)
		for len(w) >= 4 {
			acc |= w[0] | w[1] | w[2] | w[3]
			w = w[4:]
		}
		for _, x := range w {
			acc |= x
		}
		s = s[len(s)&^1:]
	}
	for _, x := range s {
		acc |= uint64(x)
	}
	return uint32(acc) | uint32(acc>>32)
}
