package pcap

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/netshare/netshare/abi"
)

// Limits that keep a corrupt length field from making the reader wait for
// (and buffer) gigabytes: Wireshark's own limits for ordinary link types.
const (
	maxCaplen   = 262144   // classic record's captured length
	maxBlockLen = 16 << 20 // pcapng block
)

const (
	stateStart = iota // before the file header
	stateClassic
	stateNG
)

// iface is a pcapng interface (or the classic file's single one).
type iface struct {
	link    uint32
	snaplen uint32
	// Timestamp units to µs: units*mul/div for decimal resolutions, or
	// (units*1e6)>>shift for binary ones.
	binary   bool
	mul, div uint64
	shift    uint
	offsetUS int64 // if_tsoffset, in µs
}

func (f *iface) micros(units uint64) int64 {
	var us uint64
	if f.binary {
		hi, lo := bits.Mul64(units, 1e6)
		switch {
		case f.shift == 0:
			us = lo
		case f.shift >= 64:
			us = hi >> (f.shift - 64)
		default:
			us = lo>>f.shift | hi<<(64-f.shift)
		}
	} else {
		us = units * f.mul / f.div
	}
	return int64(us) + f.offsetUS
}

// Reader reads a classic pcap or pcapng stream fed in pieces. It keeps the
// incomplete record at the end of a piece and finishes it with the next.
type Reader struct {
	cols  columns
	batch abi.Batch

	tail []byte // the start of an incomplete unit (header, record or block)
	need int    // bytes that unit needs in all
	off  int64  // file offset of the first byte not yet consumed
	err  error  // sticky: a stream that failed stays failed

	state   int
	be      bool // big-endian file or section
	nano    bool // classic: nanosecond timestamps
	recHdr  int  // classic record header length: 16, or 24 for the modified format
	classic iface
	ifaces  []iface // pcapng: interfaces of the current section

	packets   int64 // packet records seen, kept or not: the number in error messages
	records   int64
	skipped   [numReasons]int64
	sections  int
	other     int64 // pcapng blocks that hold no packet and are skipped
	lastTS    int64 // for simple packet blocks, which carry no timestamp
	linkNotes []string
	precNotes []string
}

// NewReader returns a reader of one stream; the container (classic or
// pcapng) is recognised from its first bytes.
func NewReader() *Reader { return &Reader{need: 4} }

// Decode consumes the next piece of the stream and returns the records it
// completed. The batch is reused by the next call.
func (d *Reader) Decode(p []byte) (*abi.Batch, error) {
	if d.err != nil {
		return nil, d.err
	}
	d.cols.reset()
	// Finish the unit that straddles the previous piece and this one,
	// copying only the bytes it needs.
	for len(d.tail) > 0 && len(p) > 0 {
		take := min(d.need-len(d.tail), len(p))
		d.tail = append(d.tail, p[:take]...)
		p = p[take:]
		if len(d.tail) < d.need {
			break
		}
		n, need, err := d.run(d.tail)
		if err != nil {
			d.err = err
			return nil, err
		}
		d.tail = d.tail[:copy(d.tail, d.tail[n:])]
		d.need = need
	}
	if len(d.tail) == 0 {
		n, need, err := d.run(p)
		if err != nil {
			d.err = err
			return nil, err
		}
		d.tail = append(d.tail, p[n:]...)
		d.need = need
	}
	d.cols.fill(&d.batch)
	return &d.batch, nil
}

// End reports an error if the stream stopped inside a unit, and returns the
// counts of what was read and skipped.
func (d *Reader) End() (*abi.Batch, abi.ReadStats, error) {
	if d.err != nil {
		return nil, abi.ReadStats{}, d.err
	}
	d.cols.reset()
	d.cols.fill(&d.batch)
	if d.state == stateStart {
		d.err = fmt.Errorf("offset 0: stream of %d bytes is too short for a pcap or pcapng header", len(d.tail))
		return nil, abi.ReadStats{}, d.err
	}
	if len(d.tail) > 0 {
		what := "block"
		if d.state == stateClassic {
			what = "packet " + strconv.FormatInt(d.packets+1, 10)
		}
		d.err = fmt.Errorf("offset %d: file is cut short inside %s: it needs %d bytes, only %d remain", d.off, what, d.need, len(d.tail))
		return nil, abi.ReadStats{}, d.err
	}
	st := abi.ReadStats{Records: d.records, Notes: d.Notes()}
	for r, n := range d.skipped {
		if n > 0 {
			if st.Skipped == nil {
				st.Skipped = map[string]int64{}
			}
			st.Skipped[ReasonNames[r]] = n
		}
	}
	return &d.batch, st, nil
}

// Notes describes the stream read so far: container, byte order, link
// types and timestamp precision.
func (d *Reader) Notes() map[string]string {
	n := map[string]string{}
	switch d.state {
	case stateClassic:
		n["container"] = "pcap"
	case stateNG:
		n["container"] = "pcapng"
		n["sections"] = strconv.Itoa(d.sections)
		if d.other > 0 {
			n["skipped_blocks"] = strconv.FormatInt(d.other, 10)
		}
	}
	if d.be {
		n["byte_order"] = "big-endian"
	} else {
		n["byte_order"] = "little-endian"
	}
	if len(d.linkNotes) > 0 {
		n["linktype"] = strings.Join(d.linkNotes, ", ")
	}
	if len(d.precNotes) > 0 {
		n["precision"] = strings.Join(d.precNotes, ", ")
		if d.precNotes[0] != "microsecond" || len(d.precNotes) > 1 {
			n["precision"] += " (records keep microseconds, rounded down)"
		}
	}
	return n
}

func addNote(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (d *Reader) u16(b []byte) uint16 {
	if d.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *Reader) u32(b []byte) uint32 {
	if d.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *Reader) count(why int) {
	if why == okPacket {
		d.records++
	} else {
		d.skipped[why]++
	}
}

// run consumes as many whole units from buf as it holds and returns the
// bytes consumed and the size the next (incomplete) unit needs.
func (d *Reader) run(buf []byte) (pos, need int, err error) {
	for {
		rest := buf[pos:]
		switch d.state {
		case stateStart:
			if len(rest) < 4 {
				return pos, 4, nil
			}
			magic := binary.BigEndian.Uint32(rest)
			if magic == blockSHB {
				d.state = stateNG
				continue
			}
			if len(rest) < 24 {
				if Detect(rest) {
					return pos, 24, nil
				}
				return pos, 0, fmt.Errorf("offset 0: not a pcap or pcapng file (magic %08x)", magic)
			}
			if err := d.fileHeader(rest[:24]); err != nil {
				return pos, 0, err
			}
			pos += 24
			d.off += 24
		case stateClassic:
			n, need, err := d.runClassic(rest)
			return pos + n, need, err
		case stateNG:
			if len(rest) < 12 {
				return pos, 12, nil
			}
			n, need, err := d.block(rest)
			if err != nil || n == 0 {
				return pos, need, err
			}
			pos += n
			d.off += int64(n)
		}
	}
}

// fileHeader parses the 24-byte classic pcap file header.
func (d *Reader) fileHeader(h []byte) error {
	switch binary.BigEndian.Uint32(h) {
	case magicMicro:
		d.be = true
	case magicMicroSwap:
	case magicNano:
		d.be, d.nano = true, true
	case magicNanoSwap:
		d.nano = true
	case magicKuznetzov:
		d.be = true
		d.recHdr = 24
	case magicKuzSwap:
		d.recHdr = 24
	default:
		return fmt.Errorf("offset 0: not a pcap or pcapng file (magic %08x)", binary.BigEndian.Uint32(h))
	}
	if d.recHdr == 0 {
		d.recHdr = 16
	}
	if major := d.u16(h[4:]); major != 2 {
		return fmt.Errorf("offset 4: unsupported pcap version %d.%d", major, d.u16(h[6:]))
	}
	d.classic = iface{snaplen: d.u32(h[16:]), mul: 1, div: 1}
	// The top bits of the link-type field may hold an FCS length; the
	// link type proper is the low 16 bits (pcap-linktype(7)).
	d.classic.link = d.u32(h[20:]) & 0xffff
	if d.nano {
		d.classic.div = 1000
		d.precNotes = []string{"nanosecond"}
	} else {
		d.precNotes = []string{"microsecond"}
	}
	d.linkNotes = []string{linkNote(d.classic.link)}
	d.state = stateClassic
	return nil
}

func linkNote(lt uint32) string {
	return strconv.FormatUint(uint64(lt), 10) + " (" + LinkName(lt) + ")"
}

// runClassic is the hot loop over classic pcap records.
func (d *Reader) runClassic(buf []byte) (pos, need int, err error) {
	h := d.recHdr
	for {
		rest := buf[pos:]
		if len(rest) < h {
			return pos, h, nil
		}
		incl := d.u32(rest[8:])
		if incl > maxCaplen {
			return pos, 0, fmt.Errorf("offset %d: packet %d: captured length %d exceeds the limit of %d (corrupt record header?)", d.off, d.packets+1, incl, maxCaplen)
		}
		total := h + int(incl)
		if len(rest) < total {
			return pos, total, nil
		}
		sec, frac := int64(d.u32(rest)), int64(d.u32(rest[4:]))
		if d.nano {
			frac /= 1000
		}
		d.packets++
		d.count(d.cols.packet(d.classic.link, sec*1_000_000+frac, rest[h:total]))
		pos += total
		d.off += int64(total)
	}
}

// block handles the pcapng block at the start of b (at least 12 bytes).
// It returns 0 and the block's length when the block is incomplete.
func (d *Reader) block(b []byte) (n, need int, err error) {
	btype := d.u32(b)
	if btype == blockSHB {
		// A new section may switch byte order: its byte-order magic says.
		switch binary.BigEndian.Uint32(b[8:]) {
		case byteOrderMagic:
			d.be = true
		case byteOrderMagicSw:
			d.be = false
		default:
			return 0, 0, fmt.Errorf("offset %d: section header block has a bad byte-order magic %08x", d.off, binary.BigEndian.Uint32(b[8:]))
		}
	}
	blen := d.u32(b[4:])
	minLen := uint32(12)
	switch btype {
	case blockSHB:
		minLen = 28
	case 1: // IDB
		minLen = 20
	case 2, 6: // OPB, EPB
		minLen = 32
	case 3: // SPB
		minLen = 16
	}
	if blen < minLen || blen%4 != 0 || blen > maxBlockLen {
		return 0, 0, fmt.Errorf("offset %d: block of type %#x has a bad length %d (minimum %d, multiple of 4, at most %d)", d.off, btype, blen, minLen, maxBlockLen)
	}
	if len(b) < int(blen) {
		return 0, int(blen), nil
	}
	blk := b[:blen]
	if trail := d.u32(blk[blen-4:]); trail != blen {
		return 0, 0, fmt.Errorf("offset %d: block of type %#x: length %d at its start, %d at its end", d.off, btype, blen, trail)
	}
	body := blk[8 : blen-4]
	switch btype {
	case blockSHB:
		if major := d.u16(body[4:]); major != 1 {
			return 0, 0, fmt.Errorf("offset %d: unsupported pcapng version %d.%d", d.off, major, d.u16(body[6:]))
		}
		d.sections++
		d.ifaces = d.ifaces[:0]
	case 1:
		f, err := d.idb(body)
		if err != nil {
			return 0, 0, err
		}
		d.ifaces = append(d.ifaces, f)
		d.linkNotes = addNote(d.linkNotes, linkNote(f.link))
	case 6, 2:
		var id uint32
		if btype == 6 {
			id = d.u32(body)
		} else {
			id = uint32(d.u16(body))
		}
		d.packets++
		if int(id) >= len(d.ifaces) || id >= uint32(len(d.ifaces)) {
			return 0, 0, fmt.Errorf("offset %d: packet %d names interface %d, but the section defines %d", d.off, d.packets, id, len(d.ifaces))
		}
		caplen := d.u32(body[12:])
		if caplen > uint32(len(body)-20) {
			return 0, 0, fmt.Errorf("offset %d: packet %d: captured length %d overruns its block of %d bytes", d.off, d.packets, caplen, blen)
		}
		f := &d.ifaces[id]
		ts := f.micros(uint64(d.u32(body[4:]))<<32 | uint64(d.u32(body[8:])))
		d.lastTS = ts
		d.count(d.cols.packet(f.link, ts, body[20:20+caplen]))
	case 3:
		d.packets++
		if len(d.ifaces) == 0 {
			return 0, 0, fmt.Errorf("offset %d: packet %d: simple packet block before any interface description", d.off, d.packets)
		}
		f := &d.ifaces[0]
		caplen := uint32(len(body) - 4)
		if orig := d.u32(body); orig < caplen {
			caplen = orig
		}
		if f.snaplen != 0 && f.snaplen < caplen {
			caplen = f.snaplen
		}
		// A simple packet block has no timestamp: the previous packet's
		// keeps the records in time order.
		d.count(d.cols.packet(f.link, d.lastTS, body[4:4+caplen]))
	default:
		d.other++
	}
	return int(blen), 0, nil
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// idb parses an interface description block's body.
func (d *Reader) idb(body []byte) (iface, error) {
	f := iface{link: uint32(d.u16(body)), snaplen: d.u32(body[4:]), mul: 1, div: 1}
	resol := byte(6)
	opts := body[8:]
	for len(opts) >= 4 {
		code, olen := d.u16(opts), int(d.u16(opts[2:]))
		if code == 0 { // opt_endofopt
			break
		}
		padded := (olen + 3) &^ 3
		if 4+padded > len(opts) {
			return f, fmt.Errorf("offset %d: interface description block: option %d of %d bytes overruns the block", d.off, code, olen)
		}
		val := opts[4 : 4+olen]
		switch code {
		case 9: // if_tsresol
			if olen != 1 {
				return f, fmt.Errorf("offset %d: interface description block: if_tsresol has %d bytes, want 1", d.off, olen)
			}
			resol = val[0]
		case 14: // if_tsoffset, seconds
			if olen != 8 {
				return f, fmt.Errorf("offset %d: interface description block: if_tsoffset has %d bytes, want 8", d.off, olen)
			}
			var sec uint64
			if d.be {
				sec = binary.BigEndian.Uint64(val)
			} else {
				sec = binary.LittleEndian.Uint64(val)
			}
			f.offsetUS = int64(sec) * 1_000_000
		}
		opts = opts[4+padded:]
	}
	exp := uint(resol & 0x7f)
	var prec string
	if resol&0x80 != 0 {
		f.binary, f.shift = true, exp
		prec = "2^-" + strconv.Itoa(int(exp)) + " s"
	} else {
		switch {
		case exp > 6+19:
			return f, fmt.Errorf("offset %d: interface description block: if_tsresol 10^-%d is finer than supported", d.off, exp)
		case exp >= 6:
			f.div = pow10[exp-6]
		default:
			f.mul = pow10[6-exp]
		}
		switch exp {
		case 0:
			prec = "second"
		case 3:
			prec = "millisecond"
		case 6:
			prec = "microsecond"
		case 9:
			prec = "nanosecond"
		default:
			prec = "10^-" + strconv.Itoa(int(exp)) + " s"
		}
	}
	d.precNotes = addNote(d.precNotes, prec)
	return f, nil
}
