package ipbits

// The per-row kernels are written out bit by bit: inside the Wasm sandbox
// a loop costs a back-edge check per step, and these run for every address
// the GAN sees. On the wire bit k is the index of the hot element of its
// two-way one-hot, which is the bit itself.

// encodeRow writes v's 32 bits, most significant first.
func encodeRow(row *[Bits]uint32, v uint32) {
	row[0] = v >> 31 & 1
	row[1] = v >> 30 & 1
	row[2] = v >> 29 & 1
	row[3] = v >> 28 & 1
	row[4] = v >> 27 & 1
	row[5] = v >> 26 & 1
	row[6] = v >> 25 & 1
	row[7] = v >> 24 & 1
	row[8] = v >> 23 & 1
	row[9] = v >> 22 & 1
	row[10] = v >> 21 & 1
	row[11] = v >> 20 & 1
	row[12] = v >> 19 & 1
	row[13] = v >> 18 & 1
	row[14] = v >> 17 & 1
	row[15] = v >> 16 & 1
	row[16] = v >> 15 & 1
	row[17] = v >> 14 & 1
	row[18] = v >> 13 & 1
	row[19] = v >> 12 & 1
	row[20] = v >> 11 & 1
	row[21] = v >> 10 & 1
	row[22] = v >> 9 & 1
	row[23] = v >> 8 & 1
	row[24] = v >> 7 & 1
	row[25] = v >> 6 & 1
	row[26] = v >> 5 & 1
	row[27] = v >> 4 & 1
	row[28] = v >> 3 & 1
	row[29] = v >> 2 & 1
	row[30] = v >> 1 & 1
	row[31] = v >> 0 & 1
}

// decodeRow assembles an address from its 32 bit indices, each 0 or 1
// (the sdk has checked them against the outputs' width of 2).
func decodeRow(row *[Bits]uint32) uint32 {
	return row[0]<<31 |
		row[1]<<30 |
		row[2]<<29 |
		row[3]<<28 |
		row[4]<<27 |
		row[5]<<26 |
		row[6]<<25 |
		row[7]<<24 |
		row[8]<<23 |
		row[9]<<22 |
		row[10]<<21 |
		row[11]<<20 |
		row[12]<<19 |
		row[13]<<18 |
		row[14]<<17 |
		row[15]<<16 |
		row[16]<<15 |
		row[17]<<14 |
		row[18]<<13 |
		row[19]<<12 |
		row[20]<<11 |
		row[21]<<10 |
		row[22]<<9 |
		row[23]<<8 |
		row[24]<<7 |
		row[25]<<6 |
		row[26]<<5 |
		row[27]<<4 |
		row[28]<<3 |
		row[29]<<2 |
		row[30]<<1 |
		row[31]
}
