package pcap

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// DefaultSnaplen is the default most bytes written per packet: libpcap's
// default, large enough that no IPv4 packet is cut.
const DefaultSnaplen = maxCaplen

// Fixed MAC addresses for Ethernet output (locally administered, so they
// can never be mistaken for a real vendor's).
var (
	macSrc = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	macDst = [6]byte{0x02, 0, 0, 0, 0, 0x02}
)

// Options say what capture an Writer writes.
type Options struct {
	Link    uint32 // LinkRaw, LinkIPv4, LinkEthernet, LinkSLL, LinkSLL2, LinkNull or LinkLoop
	Snaplen int    // most bytes written per packet, link header included
	Nano    bool   // nanosecond timestamps
	PCAPNG  bool   // pcapng instead of classic pcap
	// ZeroPayload writes each packet whole, zeros after the headers; without
	// it only the headers are captured and the original length says the rest.
	ZeroPayload bool
	// Sessions writes each TCP conversation as a connection a stack
	// would have made: handshake, flags, sequence and acknowledgement
	// numbers, options and windows follow from the records' order
	// (session.go). Without it each record's flags are written as they
	// are, with bare 20-byte headers.
	Sessions bool
}

var linkByName = map[string]uint32{
	"raw": LinkRaw, "ipv4": LinkIPv4, "ethernet": LinkEthernet, "sll": LinkSLL,
	"sll2": LinkSLL2, "null": LinkNull, "loop": LinkLoop,
}

func optionsFromParams(p sdk.Params) (Options, error) {
	opt := Options{Snaplen: p.Int("snaplen"), PCAPNG: p.Bool("pcapng")}
	name := p.String("linktype")
	lt, ok := linkByName[name]
	if !ok {
		return opt, fmt.Errorf("pcap: parameter linktype: unknown link type %q (want raw, ipv4, ethernet, sll, sll2, null or loop)", name)
	}
	opt.Link = lt
	switch tcp := p.String("tcp"); tcp {
	case "session":
		opt.Sessions = true
	case "as-is":
	default:
		return opt, fmt.Errorf("pcap: parameter tcp: want session or as-is, got %q", tcp)
	}
	switch pl := p.String("payload"); pl {
	case "none":
	case "zeros":
		opt.ZeroPayload = true
	default:
		return opt, fmt.Errorf("pcap: parameter payload: want none or zeros, got %q", pl)
	}
	switch prec := p.String("precision"); prec {
	case "us":
	case "ns":
		opt.Nano = true
	default:
		return opt, fmt.Errorf("pcap: parameter precision: want us or ns, got %q", prec)
	}
	return opt, nil
}

// linkHeaderLen is the bytes each link type puts before the IPv4 header.
func linkHeaderLen(lt uint32) int {
	switch lt {
	case LinkEthernet:
		return 14
	case LinkSLL:
		return 16
	case LinkSLL2:
		return 20
	case LinkNull, LinkLoop:
		return 4
	}
	return 0
}

// Fix-up reasons an Writer counts (see Fixes).
const (
	FixPktLenRaised   = "pkt_len-raised"    // pkt_len below the headers written, raised to their size
	FixICMPTypeCapped = "icmp-type-clamped" // ICMP type or code above 255, written as 255
)

// flowKey is one direction of a TCP connection, for sequence numbers.
type flowKey struct {
	src, dst     uint32
	sport, dport uint16
}

// Writer writes packet records as a capture. Payload is not modelled: each
// packet carries zero bytes after its headers, up to pkt_len.
type Writer struct {
	opt     Options
	linkLen int
	started bool
	fixes   map[string]int64
	// nextSeq is each TCP direction's next sequence number, so that a
	// connection's segments follow on from each other as in a real capture.
	nextSeq map[flowKey]uint32
	// conns is each TCP conversation's state when writing sessions.
	conns map[convKey]*conn
	hdr   [128]byte // link + IP + transport headers of one packet
}

// NewWriter returns a writer for the capture opt describes.
func NewWriter(opt Options) (*Writer, error) {
	if LinkName(opt.Link) == "unsupported" || opt.Link == LinkIPv6 || opt.Link == LinkRawBSD || opt.Link == LinkRawOBSD {
		return nil, fmt.Errorf("pcap: cannot write link type %d", opt.Link)
	}
	ll := linkHeaderLen(opt.Link)
	if opt.Snaplen < ll+40 || opt.Snaplen > maxCaplen {
		return nil, fmt.Errorf("pcap: parameter snaplen: %d is outside [%d, %d] (the link, IPv4 and TCP headers must fit)", opt.Snaplen, ll+40, maxCaplen)
	}
	return &Writer{opt: opt, linkLen: ll, fixes: map[string]int64{}, nextSeq: map[flowKey]uint32{}, conns: map[convKey]*conn{}}, nil
}

// Fixes returns how many records were changed to make valid packets, by
// reason (FixPktLenRaised, FixICMPTypeCapped).
func (e *Writer) Fixes() map[string]int64 { return e.fixes }

// header appends the file header (classic) or the section header and
// interface description (pcapng).
func (e *Writer) header(dst []byte) []byte {
	le := binary.LittleEndian
	if !e.opt.PCAPNG {
		magic := uint32(magicMicro)
		if e.opt.Nano {
			magic = magicNano
		}
		dst = le.AppendUint32(dst, magic)
		dst = le.AppendUint16(dst, 2)
		dst = le.AppendUint16(dst, 4)
		dst = le.AppendUint32(dst, 0) // thiszone
		dst = le.AppendUint32(dst, 0) // sigfigs
		dst = le.AppendUint32(dst, uint32(e.opt.Snaplen))
		return le.AppendUint32(dst, e.opt.Link)
	}
	// Section header with shb_userappl = "netshare".
	const shbLen = 8 + 16 + 12 + 4 + 4
	dst = le.AppendUint32(dst, blockSHB)
	dst = le.AppendUint32(dst, shbLen)
	dst = le.AppendUint32(dst, byteOrderMagic)
	dst = le.AppendUint16(dst, 1)
	dst = le.AppendUint16(dst, 0)
	dst = le.AppendUint64(dst, math.MaxUint64) // section length unknown
	dst = le.AppendUint16(dst, 4)
	dst = le.AppendUint16(dst, 8)
	dst = append(dst, "netshare"...)
	dst = le.AppendUint32(dst, 0) // opt_endofopt
	dst = le.AppendUint32(dst, shbLen)
	// Interface description with if_tsresol.
	resol := byte(6)
	if e.opt.Nano {
		resol = 9
	}
	dst = le.AppendUint32(dst, 1)
	dst = le.AppendUint32(dst, 32)
	dst = le.AppendUint16(dst, uint16(e.opt.Link))
	dst = le.AppendUint16(dst, 0)
	dst = le.AppendUint32(dst, uint32(e.opt.Snaplen))
	dst = le.AppendUint16(dst, 9)
	dst = le.AppendUint16(dst, 1)
	dst = append(dst, resol, 0, 0, 0)
	dst = le.AppendUint32(dst, 0)
	return le.AppendUint32(dst, 32)
}

// numCol reads one integer column of any numeric type, checking range.
type numCol struct {
	c    *abi.Column
	name string
	max  uint64
	def  uint64 // value when the column is absent
}

func (n *numCol) at(row int) (uint64, error) {
	c := n.c
	if c == nil {
		return n.def, nil
	}
	var v uint64
	switch c.Type {
	case abi.TypeU8:
		v = uint64(c.U8[row])
	case abi.TypeU16:
		v = uint64(c.U16[row])
	case abi.TypeU32, abi.TypeIPv4:
		v = uint64(c.U32[row])
	case abi.TypeI64, abi.TypeTime:
		x := c.I64[row]
		if x < 0 {
			return 0, fmt.Errorf("row %d: column %q: %d is negative", row, n.name, x)
		}
		v = uint64(x)
	case abi.TypeF64:
		// Synthetic values may come back as floats; round to the nearest.
		x := math.Round(c.F64[row])
		if !(x >= 0 && x <= float64(n.max)) {
			return 0, fmt.Errorf("row %d: column %q: %v is outside [0, %d]", row, n.name, c.F64[row], n.max)
		}
		v = uint64(x)
	default:
		return 0, fmt.Errorf("row %d: column %q: %s is not a numeric type", row, n.name, c.Type)
	}
	if v > n.max {
		return 0, fmt.Errorf("row %d: column %q: %d exceeds %d", row, n.name, v, n.max)
	}
	return v, nil
}

// Columns a writer reads: required ones have no default.
var encodeColumns = []struct {
	name     string
	max      uint64
	def      uint64
	required bool
}{
	{"ts", math.MaxInt64, 0, true},
	{"srcip", math.MaxUint32, 0, true},
	{"dstip", math.MaxUint32, 0, true},
	{"srcport", math.MaxUint16, 0, true},
	{"dstport", math.MaxUint16, 0, true},
	{"proto", math.MaxUint8, 0, true},
	{"pkt_len", math.MaxUint16, 0, true},
	{"tos", math.MaxUint8, 0, false},
	{"id", math.MaxUint16, 0, false},
	{"flag", 7, 0, false},
	{"off", 0x1fff, 0, false},
	{"ttl", math.MaxUint8, 64, false},
	{"tcp_flags", math.MaxUint8, 0x10, false}, // ACK: the commonest flags of a TCP packet
}

// Encode appends the packets of b to dst (after the file header, the
// first time).
func (e *Writer) Encode(dst []byte, b *abi.Batch) ([]byte, error) {
	if !e.started {
		dst = e.header(dst)
		e.started = true
	}
	var cols [13]numCol
	for i, spec := range encodeColumns {
		cols[i] = numCol{c: b.Column(spec.name), name: spec.name, max: spec.max, def: spec.def}
		if cols[i].c == nil && spec.required {
			return dst, fmt.Errorf("pcap: batch has no column %q (have %s)", spec.name, columnList(b))
		}
	}
	var v [13]uint64
	for row := range b.Len() {
		for i := range cols {
			x, err := cols[i].at(row)
			if err != nil {
				return dst, fmt.Errorf("pcap: %w", err)
			}
			v[i] = x
		}
		var err error
		dst, err = e.packet(dst, row, v)
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func columnList(b *abi.Batch) string {
	s := ""
	for i := range b.Columns {
		if i > 0 {
			s += ", "
		}
		s += b.Columns[i].Name
	}
	if s == "" {
		return "none"
	}
	return s
}

// End writes the file header if no batch came, so that an empty capture is
// still a valid file.
func (e *Writer) End(dst []byte) ([]byte, error) {
	if !e.started {
		dst = e.header(dst)
		e.started = true
	}
	return dst, nil
}

// packet appends one packet record; v holds the columns in encodeColumns
// order.
func (e *Writer) packet(dst []byte, row int, v [13]uint64) ([]byte, error) {
	ts := int64(v[0])
	src, dstIP := uint32(v[1]), uint32(v[2])
	sport, dport := uint16(v[3]), uint16(v[4])
	proto := uint8(v[5])
	pktLen := int(v[6])
	tos, id, flag, off, ttl, tcpFlags := uint8(v[7]), uint16(v[8]), uint16(v[9]), uint16(v[10]), uint8(v[11]), uint8(v[12])

	// Only an unfragmented packet or a first fragment carries the
	// transport header.
	l4 := 0
	if off == 0 {
		switch proto {
		case 6:
			l4 = 20
		case 17:
			l4 = 8
		case 1:
			l4 = 8
			if icmpError(sport) {
				// An ICMP error quotes the offending datagram's IPv4
				// header and first 8 bytes; zeros there would read as
				// a bogus IP version.
				l4 = 8 + 28
			}
		}
	}
	if pktLen < 20+l4 {
		pktLen = 20 + l4
		e.fixes[FixPktLenRaised]++
	}
	h := e.hdr[:0]
	h = e.linkHeader(h)
	ipStart := len(h)
	h = append(h, 0x45, tos)
	h = binary.BigEndian.AppendUint16(h, uint16(pktLen))
	h = binary.BigEndian.AppendUint16(h, id)
	h = binary.BigEndian.AppendUint16(h, flag<<13|off)
	h = append(h, ttl, proto, 0, 0)
	h = binary.BigEndian.AppendUint32(h, src)
	h = binary.BigEndian.AppendUint32(h, dstIP)
	binary.BigEndian.PutUint16(h[ipStart+10:], checksum(h[ipStart:ipStart+20], 0))
	l4Start := len(h)
	l4Len := pktLen - 20
	if l4 > 0 {
		switch proto {
		case 6:
			if e.opt.Sessions {
				h = e.sessionHeader(h, ts, src, dstIP, sport, dport, tcpFlags, l4Len-20)
			} else {
				h = e.tcpHeader(h, src, dstIP, sport, dport, tcpFlags, l4Len-20)
			}
		case 17:
			h = binary.BigEndian.AppendUint16(h, sport)
			h = binary.BigEndian.AppendUint16(h, dport)
			h = binary.BigEndian.AppendUint16(h, uint16(l4Len))
			h = append(h, 0, 0)
		case 1:
			if sport > 255 || dport > 255 {
				e.fixes[FixICMPTypeCapped]++
				sport, dport = min(sport, 255), min(dport, 255)
			}
			h = append(h, uint8(sport), uint8(dport), 0, 0, 0, 0, 0, 0)
			if icmpError(sport) {
				h = quoteDatagram(h, dstIP, src, l4Len-8)
			}
		}
		// The payload is all zeros, so it adds nothing to the sum: the
		// checksum of the headers alone is that of the whole segment.
		var sum uint32
		if proto != 1 {
			sum = pseudoSum(src, dstIP, proto, l4Len)
		}
		c := checksum(h[l4Start:], sum)
		if proto == 17 && c == 0 {
			c = 0xffff // zero means "no checksum" in UDP
		}
		binary.BigEndian.PutUint16(h[l4Start+csumOffset(proto):], c)
	}

	orig := e.linkLen + pktLen
	caplen := min(orig, e.opt.Snaplen)
	if !e.opt.ZeroPayload {
		caplen = min(caplen, len(h))
	}
	if err := checkTS(row, ts, e.opt.PCAPNG); err != nil {
		return dst, err
	}
	dst = e.recordHeader(dst, ts, caplen, orig)
	n := min(len(h), caplen)
	dst = append(dst, h[:n]...)
	dst = appendZeros(dst, caplen-n)
	if e.opt.PCAPNG {
		dst = appendZeros(dst, pad4(caplen)-caplen)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(32+pad4(caplen)))
	}
	return dst, nil
}

func checkTS(row int, ts int64, ng bool) error {
	if !ng && ts/1_000_000 > math.MaxUint32 {
		return fmt.Errorf("pcap: row %d: timestamp %d µs is past what classic pcap can hold (year 2106)", row, ts)
	}
	return nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

func appendZeros(dst []byte, n int) []byte {
	if n <= 0 {
		return dst
	}
	l := len(dst)
	dst = slices.Grow(dst, n)[:l+n]
	clear(dst[l:])
	return dst
}

func csumOffset(proto uint8) int {
	switch proto {
	case 6:
		return 16
	case 17:
		return 6
	}
	return 2
}

// recordHeader appends a classic record header or the start of an EPB.
func (e *Writer) recordHeader(dst []byte, ts int64, caplen, orig int) []byte {
	le := binary.LittleEndian
	if e.opt.PCAPNG {
		units := uint64(ts)
		if e.opt.Nano {
			units *= 1000
		}
		dst = le.AppendUint32(dst, 6)
		dst = le.AppendUint32(dst, uint32(32+pad4(caplen)))
		dst = le.AppendUint32(dst, 0) // interface 0
		dst = le.AppendUint32(dst, uint32(units>>32))
		dst = le.AppendUint32(dst, uint32(units))
	} else {
		frac := uint32(ts % 1_000_000)
		if e.opt.Nano {
			frac *= 1000
		}
		dst = le.AppendUint32(dst, uint32(ts/1_000_000))
		dst = le.AppendUint32(dst, frac)
	}
	dst = le.AppendUint32(dst, uint32(caplen))
	return le.AppendUint32(dst, uint32(orig))
}

func (e *Writer) linkHeader(h []byte) []byte {
	switch e.opt.Link {
	case LinkEthernet:
		h = append(h, macDst[:]...)
		h = append(h, macSrc[:]...)
		h = append(h, 0x08, 0x00)
	case LinkSLL:
		h = append(h, 0, 0, 0, 1, 0, 6) // incoming unicast, ARPHRD_ETHER, 6-byte address
		h = append(h, macSrc[:]...)
		h = append(h, 0, 0, 0x08, 0x00)
	case LinkSLL2:
		h = append(h, 0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6) // protocol, reserved, ifindex 1, ARPHRD_ETHER, incoming, 6-byte address
		h = append(h, macSrc[:]...)
		h = append(h, 0, 0)
	case LinkNull:
		// The capturing host's byte order: our files are little-endian.
		h = append(h, 2, 0, 0, 0)
	case LinkLoop:
		h = append(h, 0, 0, 0, 2)
	}
	return h
}

// tcpHeader appends a 20-byte TCP header with sequence numbers that follow
// on within each direction, and acknowledgements of the other direction.
func (e *Writer) tcpHeader(h []byte, src, dst uint32, sport, dport uint16, flags uint8, payload int) []byte {
	k := flowKey{src, dst, sport, dport}
	seq, ok := e.nextSeq[k]
	if !ok {
		seq = isn(k)
	}
	next := seq + uint32(payload)
	if flags&0x02 != 0 { // SYN
		next++
	}
	if flags&0x01 != 0 { // FIN
		next++
	}
	e.nextSeq[k] = next
	var ack uint32
	if flags&0x10 != 0 {
		r := flowKey{dst, src, dport, sport}
		var seen bool
		if ack, seen = e.nextSeq[r]; !seen {
			ack = isn(r) + 1
		}
	}
	h = binary.BigEndian.AppendUint16(h, sport)
	h = binary.BigEndian.AppendUint16(h, dport)
	h = binary.BigEndian.AppendUint32(h, seq)
	h = binary.BigEndian.AppendUint32(h, ack)
	// Data offset 5 words, the flags, a full window (a zero window would
	// read as a stalled receiver), checksum and urgent pointer.
	return append(h, 5<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
}

// isn is a connection direction's initial sequence number: a hash of its
// addresses, so output does not depend on anything but the records.
func isn(k flowKey) uint32 {
	x := uint64(k.src)<<32 | uint64(k.dst)
	x ^= uint64(k.sport)<<48 | uint64(k.dport)<<16
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return uint32(x)
}

// icmpError reports whether an ICMP type is an error message, which
// quotes the datagram that caused it: destination unreachable, source
// quench, redirect, time exceeded, parameter problem.
func icmpError(typ uint16) bool {
	switch typ {
	case 3, 4, 5, 11, 12:
		return true
	}
	return false
}

// quoteDatagram appends the quoted datagram of an ICMP error: an IPv4
// header from the host the error goes to, back to its sender, carrying
// UDP (the commonest cause), then that UDP header. n is the bytes the
// quote spans (the rest of the ICMP message), at least 28.
func quoteDatagram(h []byte, src, dst uint32, n int) []byte {
	start := len(h)
	h = append(h, 0x45, 0)
	h = binary.BigEndian.AppendUint16(h, uint16(n))
	h = append(h, 0, 0, 0, 0, 64, 17, 0, 0)
	h = binary.BigEndian.AppendUint32(h, src)
	h = binary.BigEndian.AppendUint32(h, dst)
	binary.BigEndian.PutUint16(h[start+10:], checksum(h[start:start+20], 0))
	h = append(h, 0, 0, 0, 0)
	h = binary.BigEndian.AppendUint16(h, uint16(n-20))
	return append(h, 0, 0) // UDP checksum 0: none, as the quote may be cut
}

func pseudoSum(src, dst uint32, proto uint8, l4Len int) uint32 {
	return src>>16 + src&0xffff + dst>>16 + dst&0xffff + uint32(proto) + uint32(l4Len)
}

// checksum is the Internet checksum of b, starting from the partial sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
