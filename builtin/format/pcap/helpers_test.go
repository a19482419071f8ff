package pcap

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/internal/shareddata"
)

// rec is one packet record, for comparisons.
type rec struct {
	TS                    int64
	Src, Dst              uint32
	Sport, Dport, Len, ID uint16
	Proto, TOS, Flag, TTL uint8
	Off                   uint16
	TCPFlags              uint8
}

// records converts a decoded batch to rows, checking its schema.
func records(t testing.TB, b *abi.Batch) []rec {
	if b == nil || b.Len() == 0 {
		return nil
	}
	t.Helper()
	if err := b.Check(); err != nil {
		t.Fatalf("bad batch: %v", err)
	}
	if len(b.Columns) != len(ColumnNames) {
		t.Fatalf("batch has %d columns, want %d", len(b.Columns), len(ColumnNames))
	}
	for i, n := range ColumnNames {
		if b.Columns[i].Name != n {
			t.Fatalf("column %d is %q, want %q", i, b.Columns[i].Name, n)
		}
	}
	c := b.Columns
	out := make([]rec, b.Len())
	for i := range out {
		out[i] = rec{
			TS: c[0].I64[i], Src: c[1].U32[i], Dst: c[2].U32[i], Sport: c[3].U16[i], Dport: c[4].U16[i],
			Proto: c[5].U8[i], Len: c[6].U16[i], TOS: c[7].U8[i], ID: c[8].U16[i], Flag: c[9].U8[i],
			Off: c[10].U16[i], TTL: c[11].U8[i], TCPFlags: c[12].U8[i],
		}
	}
	return out
}

// toBatch builds a batch of packet records with the canonical types.
func toBatch(rs []rec) *abi.Batch {
	var c columns
	for _, r := range rs {
		c.ts = append(c.ts, r.TS)
		c.srcip, c.dstip = append(c.srcip, r.Src), append(c.dstip, r.Dst)
		c.srcport, c.dstport = append(c.srcport, r.Sport), append(c.dstport, r.Dport)
		c.proto, c.pktLen = append(c.proto, r.Proto), append(c.pktLen, r.Len)
		c.tos, c.id, c.flag = append(c.tos, r.TOS), append(c.id, r.ID), append(c.flag, r.Flag)
		c.off, c.ttl, c.tcpFlags = append(c.off, r.Off), append(c.ttl, r.TTL), append(c.tcpFlags, r.TCPFlags)
	}
	b := &abi.Batch{}
	c.fill(b)
	return b
}

// decodeAll feeds data to a fresh decoder in pieces of the given size (0:
// all at once) and returns every record and the stats.
func decodeAll(t testing.TB, data []byte, piece int) ([]rec, abi.ReadStats, error) {
	t.Helper()
	d := NewReader()
	var out []rec
	if piece <= 0 {
		piece = len(data) + 1
	}
	for len(data) > 0 {
		n := min(piece, len(data))
		b, err := d.Decode(data[:n])
		if err != nil {
			return out, abi.ReadStats{}, err
		}
		out = append(out, records(t, b)...)
		data = data[n:]
	}
	b, st, err := d.End()
	if err != nil {
		return out, st, err
	}
	out = append(out, records(t, b)...)
	return out, st, nil
}

// dataDir is ../shared/data/pcap beside the repository, skipping the test
// when it is absent.
func dataDir(t testing.TB) string {
	t.Helper()
	return shareddata.Path(t, "pcap")
}

// realFiles returns the real captures by base name.
func realFiles(t testing.TB) map[string][]byte {
	t.Helper()
	dir := dataDir(t)
	paths, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil || len(paths) == 0 {
		t.Skipf("no captures in %s", dir)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// Hand-made captures.

type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// classicFile builds a classic pcap: magic selects precision and the
// Kuznetzov variant; frames are (ts seconds, ts fraction, bytes).
type frame struct {
	sec, frac uint32
	data      []byte
	orig      int // 0: len(data)
}

func classicFile(bo order, magic uint32, link uint32, frames ...frame) []byte {
	var b []byte
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 65535)
	b = bo.AppendUint32(b, link)
	for _, f := range frames {
		orig := f.orig
		if orig == 0 {
			orig = len(f.data)
		}
		b = bo.AppendUint32(b, f.sec)
		b = bo.AppendUint32(b, f.frac)
		b = bo.AppendUint32(b, uint32(len(f.data)))
		b = bo.AppendUint32(b, uint32(orig))
		if magic == magicKuznetzov {
			b = append(b, 1, 0, 0, 0, 0x08, 0, 0, 0) // ifindex, protocol, pkt_type, pad
		}
		b = append(b, f.data...)
	}
	return b
}

// ngBlock builds one pcapng block with the given body.
func ngBlock(bo order, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	var b []byte
	b = bo.AppendUint32(b, typ)
	b = bo.AppendUint32(b, n)
	b = append(b, body...)
	return bo.AppendUint32(b, n)
}

func ngSHB(bo order) []byte {
	var body []byte
	body = bo.AppendUint32(body, byteOrderMagic)
	body = bo.AppendUint16(body, 1)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint64(body, ^uint64(0))
	return ngBlock(bo, blockSHB, body)
}

// ngIDB builds an interface description; tsresol < 0 omits the option,
// tsoffset 0 omits that one.
func ngIDB(bo order, link uint16, tsresol int, tsoffset uint64) []byte {
	var body []byte
	body = bo.AppendUint16(body, link)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint32(body, 65535)
	// A comment first, to exercise option skipping.
	body = bo.AppendUint16(body, 1)
	body = bo.AppendUint16(body, 5)
	body = append(body, "hello"...)
	body = append(body, 0, 0, 0)
	if tsresol >= 0 {
		body = bo.AppendUint16(body, 9)
		body = bo.AppendUint16(body, 1)
		body = append(body, byte(tsresol), 0, 0, 0)
	}
	if tsoffset != 0 {
		body = bo.AppendUint16(body, 14)
		body = bo.AppendUint16(body, 8)
		body = bo.AppendUint64(body, tsoffset)
	}
	body = bo.AppendUint32(body, 0)
	return ngBlock(bo, 1, body)
}

func ngEPB(bo order, ifc uint32, units uint64, data []byte) []byte {
	var body []byte
	body = bo.AppendUint32(body, ifc)
	body = bo.AppendUint32(body, uint32(units>>32))
	body = bo.AppendUint32(body, uint32(units))
	body = bo.AppendUint32(body, uint32(len(data)))
	body = bo.AppendUint32(body, uint32(len(data)))
	body = append(body, data...)
	return ngBlock(bo, 6, body)
}

func ngSPB(bo order, data []byte) []byte {
	body := bo.AppendUint32(nil, uint32(len(data)))
	return ngBlock(bo, 3, append(body, data...))
}

func ngOPB(bo order, ifc uint16, units uint64, data []byte) []byte {
	var body []byte
	body = bo.AppendUint16(body, ifc)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint32(body, uint32(units>>32))
	body = bo.AppendUint32(body, uint32(units))
	body = bo.AppendUint32(body, uint32(len(data)))
	body = bo.AppendUint32(body, uint32(len(data)))
	return ngBlock(bo, 2, append(body, data...))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// ipv4 builds an IPv4 packet with a valid header and the given transport
// bytes; total overrides the total length when non-zero.
func ipv4(proto uint8, fragWord uint16, l4 []byte, total uint16) []byte {
	h := []byte{0x45, 0x10, 0, 0, 0x12, 0x34, byte(fragWord >> 8), byte(fragWord), 61, proto, 0, 0, 10, 0, 0, 1, 192, 168, 7, 9}
	if total == 0 {
		total = uint16(20 + len(l4))
	}
	binary.BigEndian.PutUint16(h[2:], total)
	binary.BigEndian.PutUint16(h[10:], checksum(h, 0))
	return append(h, l4...)
}

// tcpSeg is a 20-byte TCP header from port 1234 to 80 with the flags.
func tcpSeg(flags byte) []byte {
	return []byte{0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0}
}

func udpDgram() []byte { return []byte{0x13, 0x88, 0, 53, 0, 8, 0, 0} }

// tcpRec is the record the decoder should produce for ipv4(6, frag, tcpSeg(flags), 0).
func tcpRec(ts int64, flags byte, fragWord uint16) rec {
	return rec{TS: ts, Src: 0x0a000001, Dst: 0xc0a80709, Sport: 1234, Dport: 80, Proto: 6, Len: 40, TOS: 0x10, ID: 0x1234,
		Flag: uint8(fragWord >> 13), Off: fragWord & 0x1fff, TTL: 61, TCPFlags: flags}
}

func ether(ethertype uint16, tags []uint16, payload []byte) []byte {
	b := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	for _, tpid := range tags {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = append(b, 0x00, 0x07) // VLAN 7
	}
	b = binary.BigEndian.AppendUint16(b, ethertype)
	return append(b, payload...)
}
