package ipbits

// The per-row kernels are written out bit by bit: inside the Wasm sandbox
// every loop back-edge pays for the host's interruption check, and these
// run for every address the GAN sees.

// encodeRow writes v's 32 bits, MSB first, as two-way one-hots.
func encodeRow(row *[2 * Bits]float64, v uint32) {
	var b uint32
	b = v >> 31 & 1
	row[0], row[1] = float64(1-b), float64(b)
	b = v >> 30 & 1
	row[2], row[3] = float64(1-b), float64(b)
	b = v >> 29 & 1
	row[4], row[5] = float64(1-b), float64(b)
	b = v >> 28 & 1
	row[6], row[7] = float64(1-b), float64(b)
	b = v >> 27 & 1
	row[8], row[9] = float64(1-b), float64(b)
	b = v >> 26 & 1
	row[10], row[11] = float64(1-b), float64(b)
	b = v >> 25 & 1
	row[12], row[13] = float64(1-b), float64(b)
	b = v >> 24 & 1
	row[14], row[15] = float64(1-b), float64(b)
	b = v >> 23 & 1
	row[16], row[17] = float64(1-b), float64(b)
	b = v >> 22 & 1
	row[18], row[19] = float64(1-b), float64(b)
	b = v >> 21 & 1
	row[20], row[21] = float64(1-b), float64(b)
	b = v >> 20 & 1
	row[22], row[23] = float64(1-b), float64(b)
	b = v >> 19 & 1
	row[24], row[25] = float64(1-b), float64(b)
	b = v >> 18 & 1
	row[26], row[27] = float64(1-b), float64(b)
	b = v >> 17 & 1
	row[28], row[29] = float64(1-b), float64(b)
	b = v >> 16 & 1
	row[30], row[31] = float64(1-b), float64(b)
	b = v >> 15 & 1
	row[32], row[33] = float64(1-b), float64(b)
	b = v >> 14 & 1
	row[34], row[35] = float64(1-b), float64(b)
	b = v >> 13 & 1
	row[36], row[37] = float64(1-b), float64(b)
	b = v >> 12 & 1
	row[38], row[39] = float64(1-b), float64(b)
	b = v >> 11 & 1
	row[40], row[41] = float64(1-b), float64(b)
	b = v >> 10 & 1
	row[42], row[43] = float64(1-b), float64(b)
	b = v >> 9 & 1
	row[44], row[45] = float64(1-b), float64(b)
	b = v >> 8 & 1
	row[46], row[47] = float64(1-b), float64(b)
	b = v >> 7 & 1
	row[48], row[49] = float64(1-b), float64(b)
	b = v >> 6 & 1
	row[50], row[51] = float64(1-b), float64(b)
	b = v >> 5 & 1
	row[52], row[53] = float64(1-b), float64(b)
	b = v >> 4 & 1
	row[54], row[55] = float64(1-b), float64(b)
	b = v >> 3 & 1
	row[56], row[57] = float64(1-b), float64(b)
	b = v >> 2 & 1
	row[58], row[59] = float64(1-b), float64(b)
	b = v >> 1 & 1
	row[60], row[61] = float64(1-b), float64(b)
	b = v >> 0 & 1
	row[62], row[63] = float64(1-b), float64(b)
}

// decodeRow sets bit k when the second value of pair k is the larger.
func decodeRow(row *[2 * Bits]float64) uint32 {
	var v uint32
	if row[1] > row[0] {
		v |= 1 << 31
	}
	if row[3] > row[2] {
		v |= 1 << 30
	}
	if row[5] > row[4] {
		v |= 1 << 29
	}
	if row[7] > row[6] {
		v |= 1 << 28
	}
	if row[9] > row[8] {
		v |= 1 << 27
	}
	if row[11] > row[10] {
		v |= 1 << 26
	}
	if row[13] > row[12] {
		v |= 1 << 25
	}
	if row[15] > row[14] {
		v |= 1 << 24
	}
	if row[17] > row[16] {
		v |= 1 << 23
	}
	if row[19] > row[18] {
		v |= 1 << 22
	}
	if row[21] > row[20] {
		v |= 1 << 21
	}
	if row[23] > row[22] {
		v |= 1 << 20
	}
	if row[25] > row[24] {
		v |= 1 << 19
	}
	if row[27] > row[26] {
		v |= 1 << 18
	}
	if row[29] > row[28] {
		v |= 1 << 17
	}
	if row[31] > row[30] {
		v |= 1 << 16
	}
	if row[33] > row[32] {
		v |= 1 << 15
	}
	if row[35] > row[34] {
		v |= 1 << 14
	}
	if row[37] > row[36] {
		v |= 1 << 13
	}
	if row[39] > row[38] {
		v |= 1 << 12
	}
	if row[41] > row[40] {
		v |= 1 << 11
	}
	if row[43] > row[42] {
		v |= 1 << 10
	}
	if row[45] > row[44] {
		v |= 1 << 9
	}
	if row[47] > row[46] {
		v |= 1 << 8
	}
	if row[49] > row[48] {
		v |= 1 << 7
	}
	if row[51] > row[50] {
		v |= 1 << 6
	}
	if row[53] > row[52] {
		v |= 1 << 5
	}
	if row[55] > row[54] {
		v |= 1 << 4
	}
	if row[57] > row[56] {
		v |= 1 << 3
	}
	if row[59] > row[58] {
		v |= 1 << 2
	}
	if row[61] > row[60] {
		v |= 1 << 1
	}
	if row[63] > row[62] {
		v |= 1 << 0
	}
	return v
}
