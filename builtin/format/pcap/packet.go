package pcap

import (
	"encoding/binary"

	"github.com/netshare/netshare/abi"
)

// Skip reasons: every packet not turned into a record is counted under one.
const (
	okPacket = iota
	skipNotIPv4
	skipTruncated
	skipFragment
	skipLinktype
	skipBadIP
	numReasons
)

// ReasonNames are the ReadStats.Skipped keys, indexed by reason.
var ReasonNames = [numReasons]string{
	okPacket:      "",
	skipNotIPv4:   "not-ipv4",
	skipTruncated: "truncated",
	skipFragment:  "fragment",
	skipLinktype:  "unsupported-linktype",
	skipBadIP:     "bad-ip-header",
}

// columns are the decoded records, one slice per column, reused across
// calls so that steady-state decoding does not allocate.
type columns struct {
	ts                                []int64
	srcip, dstip                      []uint32
	srcport, dstport, pktLen, id, off []uint16
	proto, tos, flag, ttl, tcpFlags   []uint8
}

func (c *columns) reset() {
	c.ts = c.ts[:0]
	c.srcip, c.dstip = c.srcip[:0], c.dstip[:0]
	c.srcport, c.dstport, c.pktLen, c.id, c.off = c.srcport[:0], c.dstport[:0], c.pktLen[:0], c.id[:0], c.off[:0]
	c.proto, c.tos, c.flag, c.ttl, c.tcpFlags = c.proto[:0], c.tos[:0], c.flag[:0], c.ttl[:0], c.tcpFlags[:0]
}

// fill points b's columns at c, building b's column list on first use.
func (c *columns) fill(b *abi.Batch) {
	if len(b.Columns) == 0 {
		b.Columns = make([]abi.Column, len(ColumnNames))
		types := []abi.Type{abi.TypeTime, abi.TypeIPv4, abi.TypeIPv4, abi.TypeU16, abi.TypeU16, abi.TypeU8,
			abi.TypeU16, abi.TypeU8, abi.TypeU16, abi.TypeU8, abi.TypeU16, abi.TypeU8, abi.TypeU8}
		for i, n := range ColumnNames {
			b.Columns[i] = abi.Column{Name: n, Type: types[i]}
		}
	}
	col := b.Columns
	col[0].I64 = c.ts
	col[1].U32, col[2].U32 = c.srcip, c.dstip
	col[3].U16, col[4].U16 = c.srcport, c.dstport
	col[5].U8 = c.proto
	col[6].U16 = c.pktLen
	col[7].U8 = c.tos
	col[8].U16 = c.id
	col[9].U8 = c.flag
	col[10].U16 = c.off
	col[11].U8 = c.ttl
	col[12].U8 = c.tcpFlags
}

// linkOffset returns where the IPv4 header starts in a frame of link type
// lt, or a skip reason.
func linkOffset(lt uint32, frame []byte) (int, int) {
	switch lt {
	case LinkEthernet:
		if len(frame) < 14 {
			return 0, skipTruncated
		}
		off := 12
		et := binary.BigEndian.Uint16(frame[off:])
		// 802.1Q, 802.1ad (QinQ) and the pre-standard 0x9100 stack tags:
		// each adds 4 bytes before the real EtherType.
		for et == 0x8100 || et == 0x88a8 || et == 0x9100 {
			off += 4
			if len(frame) < off+2 {
				return 0, skipTruncated
			}
			et = binary.BigEndian.Uint16(frame[off:])
		}
		if et != 0x0800 {
			return 0, skipNotIPv4
		}
		return off + 2, okPacket
	case LinkRaw, LinkRawBSD, LinkRawOBSD, LinkIPv4:
		// Raw IP may hold IPv4 or IPv6; the version nibble decides below.
		return 0, okPacket
	case LinkIPv6:
		return 0, skipNotIPv4
	case LinkSLL:
		if len(frame) < 16 {
			return 0, skipTruncated
		}
		if binary.BigEndian.Uint16(frame[14:]) != 0x0800 {
			return 0, skipNotIPv4
		}
		return 16, okPacket
	case LinkSLL2:
		if len(frame) < 20 {
			return 0, skipTruncated
		}
		if binary.BigEndian.Uint16(frame) != 0x0800 {
			return 0, skipNotIPv4
		}
		return 20, okPacket
	case LinkNull, LinkLoop:
		if len(frame) < 4 {
			return 0, skipTruncated
		}
		var fam uint32
		if lt == LinkLoop {
			// LOOP stores the family in network byte order.
			fam = binary.BigEndian.Uint32(frame)
		} else {
			// NULL stores it in the capturing host's byte order, which the
			// file does not record: a family is small, so a value with
			// high bits set was written by a host of the other order.
			fam = binary.LittleEndian.Uint32(frame)
			if fam&0xffff0000 != 0 {
				fam = binary.BigEndian.Uint32(frame)
			}
		}
		if fam != 2 { // AF_INET is 2 everywhere
			return 0, skipNotIPv4
		}
		return 4, okPacket
	}
	return 0, skipLinktype
}

// packet parses one captured frame and appends its record to c, or returns
// the reason it was skipped.
func (c *columns) packet(lt uint32, ts int64, frame []byte) int {
	start, why := linkOffset(lt, frame)
	if why != okPacket {
		return why
	}
	ip := frame[start:]
	if len(ip) < 1 {
		return skipTruncated
	}
	if ip[0]>>4 != 4 {
		if lt == LinkEthernet || lt == LinkSLL || lt == LinkSLL2 || lt == LinkNull || lt == LinkLoop || lt == LinkIPv4 {
			// The link layer said IPv4, the header disagrees.
			return skipBadIP
		}
		return skipNotIPv4
	}
	if len(ip) < 20 {
		return skipTruncated
	}
	ihl := int(ip[0]&0x0f) * 4
	total := binary.BigEndian.Uint16(ip[2:])
	if ihl < 20 || int(total) < ihl {
		return skipBadIP
	}
	fragWord := binary.BigEndian.Uint16(ip[6:])
	fragOff := fragWord & 0x1fff
	if fragOff != 0 {
		// Only the first fragment carries the transport header.
		return skipFragment
	}
	proto := ip[9]
	var sport, dport uint16
	var tcpFlags uint8
	l4 := ihl
	switch proto {
	case 6:
		if len(ip) < l4+14 {
			return skipTruncated
		}
		sport, dport = binary.BigEndian.Uint16(ip[l4:]), binary.BigEndian.Uint16(ip[l4+2:])
		tcpFlags = ip[l4+13]
	case 17:
		if len(ip) < l4+4 {
			return skipTruncated
		}
		sport, dport = binary.BigEndian.Uint16(ip[l4:]), binary.BigEndian.Uint16(ip[l4+2:])
	case 1:
		if len(ip) < l4+2 {
			return skipTruncated
		}
		// ICMP type and code travel in the port columns.
		sport, dport = uint16(ip[l4]), uint16(ip[l4+1])
	default:
		if len(ip) < ihl {
			return skipTruncated
		}
	}
	c.ts = append(c.ts, ts)
	c.srcip = append(c.srcip, binary.BigEndian.Uint32(ip[12:]))
	c.dstip = append(c.dstip, binary.BigEndian.Uint32(ip[16:]))
	c.srcport = append(c.srcport, sport)
	c.dstport = append(c.dstport, dport)
	c.proto = append(c.proto, proto)
	c.pktLen = append(c.pktLen, total)
	c.tos = append(c.tos, ip[1])
	c.id = append(c.id, binary.BigEndian.Uint16(ip[4:]))
	c.flag = append(c.flag, uint8(fragWord>>13))
	c.off = append(c.off, fragOff)
	c.ttl = append(c.ttl, ip[8])
	c.tcpFlags = append(c.tcpFlags, tcpFlags)
	return okPacket
}
