package dist

import "unsafe"

// Sorting is where the metrics spend their time, and comparison sorts are
// slow in Go's Wasm code (every comparison is a call through a stack kept
// in linear memory). These LSD radix sorts are plain loops over bytes:
// linear time, one scratch buffer, and passes whose byte is the same for
// every value (high bytes of small integers, for instance) are skipped.

// SortFloats sorts v ascending in place. v must hold no NaN. scratch is
// reused when large enough; the (possibly grown) scratch is returned for
// the next call.
func SortFloats(v []float64, scratch []uint64) []uint64 {
	if len(v) < 2 || sortedFloats(v) {
		return scratch // traces usually arrive in time order
	}
	// View v as its bit patterns and map them to unsigned keys in the
	// same order: flip every bit of negatives, only the sign of the rest.
	keys := unsafe.Slice((*uint64)(unsafe.Pointer(&v[0])), len(v))
	for i, k := range keys {
		if k>>63 == 1 {
			keys[i] = ^k
		} else {
			keys[i] = k | 1<<63
		}
	}
	scratch = radix64(keys, scratch)
	for i, k := range keys {
		if k>>63 == 1 {
			keys[i] = k &^ (1 << 63)
		} else {
			keys[i] = ^k
		}
	}
	return scratch
}

func sortedFloats(v []float64) bool {
	for i := 1; i < len(v); i++ {
		if v[i] < v[i-1] {
			return false
		}
	}
	return true
}

// radix64 sorts keys ascending in place, 11 bits at a time (six passes),
// least significant first.
func radix64(keys, scratch []uint64) []uint64 {
	const bits, buckets, passes = 11, 1 << 11, 6
	n := len(keys)
	if cap(scratch) < n {
		scratch = make([]uint64, n)
	}
	scratch = scratch[:n]
	var counts [passes][buckets]int
	for _, k := range keys {
		for p := 0; p < passes; p++ {
			counts[p][(k>>(bits*p))&(buckets-1)]++
		}
	}
	src, dst := keys, scratch
	for p := 0; p < passes; p++ {
		c := &counts[p]
		shift := uint(bits * p)
		if c[(src[0]>>shift)&(buckets-1)] == n {
			continue // every key has the same digit here
		}
		sum := 0
		for i := range c {
			sum, c[i] = sum+c[i], sum
		}
		for _, k := range src {
			d := (k >> shift) & (buckets - 1)
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return scratch
}

// SortUint32s sorts v ascending in place; scratch as for SortFloats.
func SortUint32s(v []uint32, scratch []uint32) []uint32 {
	n := len(v)
	if n < 2 {
		return scratch
	}
	if cap(scratch) < n {
		scratch = make([]uint32, n)
	}
	scratch = scratch[:n]
	var counts [4][256]int
	for _, k := range v {
		counts[0][byte(k)]++
		counts[1][byte(k>>8)]++
		counts[2][byte(k>>16)]++
		counts[3][byte(k>>24)]++
	}
	src, dst := v, scratch
	for b := 0; b < 4; b++ {
		c := &counts[b]
		if c[byte(src[0]>>(8*b))] == n {
			continue
		}
		sum := 0
		for i := range c {
			sum, c[i] = sum+c[i], sum
		}
		shift := uint(8 * b)
		for _, k := range src {
			d := byte(k >> shift)
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &v[0] {
		copy(v, src)
	}
	return scratch
}

// SortCountsDesc sorts non-negative integral counts (held as float64)
// descending in place.
func SortCountsDesc(v []float64, scratch []uint64) []uint64 {
	scratch = SortFloats(v, scratch)
	for i, j := 0, len(v)-1; i < j; i, j = i+1, j-1 {
		v[i], v[j] = v[j], v[i]
	}
	return scratch
}
