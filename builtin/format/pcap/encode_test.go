package pcap

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// encodeAll writes rs with opt in batches of the given size.
func encodeAll(t testing.TB, opt Options, b *abi.Batch, batch int) ([]byte, *Writer) {
	t.Helper()
	e, err := NewWriter(opt)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	n := b.Len()
	for lo := 0; lo < n || lo == 0; lo += batch {
		hi := min(lo+batch, n)
		part := &abi.Batch{}
		for _, c := range b.Columns {
			c2 := c
			switch c.Type {
			case abi.TypeU8:
				c2.U8 = c.U8[lo:hi]
			case abi.TypeU16:
				c2.U16 = c.U16[lo:hi]
			case abi.TypeU32, abi.TypeIPv4:
				c2.U32 = c.U32[lo:hi]
			case abi.TypeI64, abi.TypeTime:
				c2.I64 = c.I64[lo:hi]
			case abi.TypeF64:
				c2.F64 = c.F64[lo:hi]
			}
			part.Columns = append(part.Columns, c2)
		}
		if out, err = e.Encode(out, part); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if out, err = e.End(out); err != nil {
		t.Fatal(err)
	}
	return out, e
}

// writeVariants are the output settings every round trip goes through.
var writeVariants = []struct {
	name string
	opt  Options
}{
	{"raw µs headers", Options{Link: LinkRaw, Snaplen: DefaultSnaplen}},
	{"raw µs zeros", Options{Link: LinkRaw, Snaplen: DefaultSnaplen, ZeroPayload: true}},
	{"ipv4 ns", Options{Link: LinkIPv4, Snaplen: DefaultSnaplen, Nano: true}},
	{"ethernet zeros", Options{Link: LinkEthernet, Snaplen: DefaultSnaplen, ZeroPayload: true}},
	{"sll", Options{Link: LinkSLL, Snaplen: DefaultSnaplen}},
	{"sll2 pcapng", Options{Link: LinkSLL2, Snaplen: DefaultSnaplen, PCAPNG: true}},
	{"null pcapng ns zeros", Options{Link: LinkNull, Snaplen: DefaultSnaplen, PCAPNG: true, Nano: true, ZeroPayload: true}},
	{"loop snaplen 68", Options{Link: LinkLoop, Snaplen: 68, ZeroPayload: true}},
}

// TestRoundTripRealFiles: each real capture → records → capture → records
// gives the same records, field for field, whatever the output settings.
func TestRoundTripRealFiles(t *testing.T) {
	files := realFiles(t)
	for name, data := range files {
		orig, _, err := decodeAll(t, data, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, v := range writeVariants {
			t.Run(name+"/"+v.name, func(t *testing.T) {
				out, e := encodeAll(t, v.opt, toBatch(orig), 4096)
				if len(e.Fixes()) != 0 {
					t.Errorf("real records needed fixing: %v", e.Fixes())
				}
				back, st, err := decodeAll(t, out, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if len(st.Skipped) != 0 {
					t.Errorf("re-reading skipped %v", st.Skipped)
				}
				if len(back) != len(orig) {
					t.Fatalf("%d records back, %d written", len(back), len(orig))
				}
				for i := range orig {
					if back[i] != orig[i] {
						t.Fatalf("record %d:\n got %+v\nwant %+v", i, back[i], orig[i])
					}
				}
			})
		}
	}
}

// parsed is a written packet taken apart, to check each header.
type parsed struct {
	ip, l4 []byte
	caplen int
	orig   int
}

// packets splits a classic little-endian capture written with raw link.
func packets(t *testing.T, file []byte) []parsed {
	t.Helper()
	var out []parsed
	for p := file[24:]; len(p) > 0; {
		caplen := int(binary.LittleEndian.Uint32(p[8:]))
		orig := int(binary.LittleEndian.Uint32(p[12:]))
		ip := p[16 : 16+caplen]
		out = append(out, parsed{ip: ip, l4: ip[20:], caplen: caplen, orig: orig})
		p = p[16+caplen:]
	}
	return out
}

// sum16 is the one's-complement sum of b plus extra: 0xffff when a
// checksum over b is right.
func sum16(b []byte, extra uint32) uint16 {
	s := extra
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// TestEncodeHeaders checks every field and checksum of written packets
// with an independent summation over the whole (zero-padded) packet.
func TestEncodeHeaders(t *testing.T) {
	rs := []rec{
		{TS: 1_600_000_000_123_456, Src: 0x01020304, Dst: 0x05060708, Sport: 443, Dport: 51000, Proto: 6, Len: 1500, TOS: 0xb8, ID: 4321, Flag: 2, TTL: 57, TCPFlags: 0x18},
		{TS: 1_600_000_000_123_457, Src: 0x05060708, Dst: 0x01020304, Sport: 51000, Dport: 443, Proto: 6, Len: 52, TTL: 64, TCPFlags: 0x10},
		{TS: 1_600_000_000_123_458, Src: 0x01020304, Dst: 0x05060708, Sport: 443, Dport: 51000, Proto: 6, Len: 41, ID: 1, TTL: 57, TCPFlags: 0x19},
		{TS: 1_600_000_000_200_000, Src: 0x0a000001, Dst: 0x08080808, Sport: 5353, Dport: 53, Proto: 17, Len: 61, ID: 9, Flag: 1, TTL: 1},
		{TS: 1_600_000_000_300_000, Src: 0x0a000001, Dst: 0x08080808, Sport: 8, Dport: 0, Proto: 1, Len: 84, TTL: 64},
		{TS: 1_600_000_000_300_001, Src: 0x08080808, Dst: 0x0a000001, Sport: 3, Dport: 3, Proto: 1, Len: 70, TTL: 250},
		{TS: 1_600_000_000_400_000, Src: 0x0a000001, Dst: 0x0a000002, Proto: 47, Len: 100, TOS: 1, ID: 77, Flag: 4, TTL: 3},
		{TS: 1_600_000_000_500_000, Src: 0x0a000001, Dst: 0x0a000002, Proto: 17, Len: 300, ID: 78, Flag: 0, Off: 185, TTL: 3},
	}
	file, e := encodeAll(t, Options{Link: LinkRaw, Snaplen: DefaultSnaplen, ZeroPayload: true}, toBatch(rs), 3)
	if len(e.Fixes()) != 0 {
		t.Fatalf("fixes %v", e.Fixes())
	}
	ps := packets(t, file)
	if len(ps) != len(rs) {
		t.Fatalf("%d packets, want %d", len(ps), len(rs))
	}
	for i, p := range ps {
		r := rs[i]
		ip := p.ip
		if p.caplen != int(r.Len) || p.orig != int(r.Len) {
			t.Errorf("packet %d: captured %d of %d, want all %d", i, p.caplen, p.orig, r.Len)
		}
		if ip[0] != 0x45 || ip[1] != r.TOS || binary.BigEndian.Uint16(ip[2:]) != r.Len || binary.BigEndian.Uint16(ip[4:]) != r.ID ||
			binary.BigEndian.Uint16(ip[6:]) != uint16(r.Flag)<<13|r.Off || ip[8] != r.TTL || ip[9] != r.Proto ||
			binary.BigEndian.Uint32(ip[12:]) != r.Src || binary.BigEndian.Uint32(ip[16:]) != r.Dst {
			t.Errorf("packet %d: IP header % x does not match %+v", i, ip[:20], r)
		}
		if sum16(ip[:20], 0) != 0xffff {
			t.Errorf("packet %d: bad IP header checksum", i)
		}
		if r.Off != 0 {
			for _, x := range ip[20:] {
				if x != 0 {
					t.Fatalf("packet %d: a non-first fragment carries a transport header", i)
				}
			}
			continue
		}
		l4 := p.l4
		pseudo := r.Src>>16 + r.Src&0xffff + r.Dst>>16 + r.Dst&0xffff + uint32(r.Proto) + uint32(len(l4))
		switch r.Proto {
		case 6:
			if binary.BigEndian.Uint16(l4) != r.Sport || binary.BigEndian.Uint16(l4[2:]) != r.Dport || l4[12] != 0x50 || l4[13] != r.TCPFlags {
				t.Errorf("packet %d: TCP header % x does not match %+v", i, l4[:20], r)
			}
			if binary.BigEndian.Uint16(l4[14:]) == 0 {
				t.Errorf("packet %d: zero window", i)
			}
			if sum16(l4, pseudo) != 0xffff {
				t.Errorf("packet %d: bad TCP checksum", i)
			}
		case 17:
			if binary.BigEndian.Uint16(l4) != r.Sport || binary.BigEndian.Uint16(l4[2:]) != r.Dport || int(binary.BigEndian.Uint16(l4[4:])) != len(l4) {
				t.Errorf("packet %d: UDP header % x does not match %+v", i, l4[:8], r)
			}
			if sum16(l4, pseudo) != 0xffff {
				t.Errorf("packet %d: bad UDP checksum", i)
			}
		case 1:
			if uint16(l4[0]) != r.Sport || uint16(l4[1]) != r.Dport {
				t.Errorf("packet %d: ICMP type/code %d/%d, want %d/%d", i, l4[0], l4[1], r.Sport, r.Dport)
			}
			if sum16(l4, 0) != 0xffff {
				t.Errorf("packet %d: bad ICMP checksum", i)
			}
			if r.Sport == 3 {
				q := l4[8:]
				if q[0] != 0x45 || int(binary.BigEndian.Uint16(q[2:])) != len(q) || sum16(q[:20], 0) != 0xffff ||
					binary.BigEndian.Uint32(q[12:]) != r.Dst || binary.BigEndian.Uint32(q[16:]) != r.Src {
					t.Errorf("packet %d: quoted datagram % x is not a valid reversed IPv4 header", i, q[:28])
				}
			}
		}
	}
	// TCP sequence numbers follow on within a direction and acknowledge
	// the other: packet 2 starts where packet 0's 1460 payload bytes end,
	// and packet 1 acknowledges exactly those bytes.
	seq0 := binary.BigEndian.Uint32(ps[0].l4[4:])
	if seq2 := binary.BigEndian.Uint32(ps[2].l4[4:]); seq2 != seq0+1460 {
		t.Errorf("second segment's seq %d, want %d", seq2, seq0+1460)
	}
	if ack1 := binary.BigEndian.Uint32(ps[1].l4[8:]); ack1 != seq0+1460 {
		t.Errorf("ack %d, want %d", ack1, seq0+1460)
	}
}

// TestEncodeFixes: records too small for their headers are raised to fit
// and counted; ICMP types above 255 are clamped and counted.
func TestEncodeFixes(t *testing.T) {
	rs := []rec{
		{TS: 1, Proto: 6, Len: 20, Sport: 1, Dport: 2, TCPFlags: 2},
		{TS: 2, Proto: 17, Len: 0},
		{TS: 3, Proto: 1, Len: 30, Sport: 11}, // time exceeded quotes 28 bytes: 56 at least
		{TS: 4, Proto: 1, Len: 28, Sport: 300, Dport: 1},
		{TS: 5, Proto: 50, Len: 3},
		{TS: 6, Proto: 6, Len: 1000, Off: 10}, // a non-first fragment needs no TCP header
	}
	file, e := encodeAll(t, Options{Link: LinkRaw, Snaplen: DefaultSnaplen}, toBatch(rs), 100)
	want := map[string]int64{FixPktLenRaised: 4, FixICMPTypeCapped: 1}
	if !reflect.DeepEqual(e.Fixes(), want) {
		t.Errorf("fixes %v, want %v", e.Fixes(), want)
	}
	back, st, err := decodeAll(t, file, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped["fragment"] != 1 || len(back) != 5 {
		t.Fatalf("%d records, skipped %v", len(back), st.Skipped)
	}
	wantLen := []uint16{40, 28, 56, 28, 20}
	for i, r := range back {
		if r.Len != wantLen[i] {
			t.Errorf("record %d: pkt_len %d, want %d", i, r.Len, wantLen[i])
		}
	}
	if back[3].Sport != 255 {
		t.Errorf("ICMP type %d, want 255", back[3].Sport)
	}
}

// TestEncodeInputTypes: columns may arrive as any numeric type (synthetic
// values come back as floats) and optional ones may be missing.
func TestEncodeInputTypes(t *testing.T) {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeF64, F64: []float64{1.5e6, 2e6}},
		{Name: "srcip", Type: abi.TypeI64, I64: []int64{0x0a000001, 0x0a000002}},
		{Name: "dstip", Type: abi.TypeIPv4, U32: []uint32{0x0a000003, 0x0a000004}},
		{Name: "srcport", Type: abi.TypeF64, F64: []float64{79.6, 1000}},
		{Name: "dstport", Type: abi.TypeU32, U32: []uint32{443, 53}},
		{Name: "proto", Type: abi.TypeF64, F64: []float64{6, 17}},
		{Name: "pkt_len", Type: abi.TypeU16, U16: []uint16{60, 100}},
		{Name: "label", Type: abi.TypeString, Dict: []string{"x"}, Codes: []uint32{0, 0}},
	}}
	file, _ := encodeAll(t, Options{Link: LinkRaw, Snaplen: DefaultSnaplen}, b, 10)
	back, _, err := decodeAll(t, file, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []rec{
		{TS: 1_500_000, Src: 0x0a000001, Dst: 0x0a000003, Sport: 80, Dport: 443, Proto: 6, Len: 60, TTL: 64, TCPFlags: 0x10},
		{TS: 2_000_000, Src: 0x0a000002, Dst: 0x0a000004, Sport: 1000, Dport: 53, Proto: 17, Len: 100, TTL: 64},
	}
	if !reflect.DeepEqual(back, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", back, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	base := func() []abi.Column {
		return []abi.Column{
			{Name: "ts", Type: abi.TypeTime, I64: []int64{1, 2}},
			{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{1, 2}},
			{Name: "dstip", Type: abi.TypeIPv4, U32: []uint32{1, 2}},
			{Name: "srcport", Type: abi.TypeU16, U16: []uint16{1, 2}},
			{Name: "dstport", Type: abi.TypeU16, U16: []uint16{1, 2}},
			{Name: "proto", Type: abi.TypeU8, U8: []uint8{6, 6}},
			{Name: "pkt_len", Type: abi.TypeU16, U16: []uint16{40, 40}},
		}
	}
	with := func(i int, c abi.Column) *abi.Batch {
		cols := base()
		if c.Name == "" {
			cols = append(cols[:i], cols[i+1:]...)
		} else {
			cols[i] = c
		}
		return &abi.Batch{Columns: cols}
	}
	cases := []struct {
		name string
		b    *abi.Batch
		want string
	}{
		{"missing pkt_len", with(6, abi.Column{}), `no column "pkt_len"`},
		{"negative time", with(0, abi.Column{Name: "ts", Type: abi.TypeI64, I64: []int64{5, -1}}), `row 1: column "ts": -1 is negative`},
		{"time past 2106", with(0, abi.Column{Name: "ts", Type: abi.TypeTime, I64: []int64{1 << 60, 1}}), "row 0: timestamp"},
		{"port out of range", with(3, abi.Column{Name: "srcport", Type: abi.TypeI64, I64: []int64{1, 70000}}), `row 1: column "srcport": 70000 exceeds 65535`},
		{"NaN", with(5, abi.Column{Name: "proto", Type: abi.TypeF64, F64: []float64{math.NaN(), 6}}), `row 0: column "proto": NaN`},
		{"float too big", with(6, abi.Column{Name: "pkt_len", Type: abi.TypeF64, F64: []float64{40, 1e9}}), `row 1: column "pkt_len"`},
		{"string column", with(5, abi.Column{Name: "proto", Type: abi.TypeString, Dict: []string{"TCP"}, Codes: []uint32{0, 0}}), `column "proto": string is not a numeric type`},
		{"flag above 7", &abi.Batch{Columns: append(base(), abi.Column{Name: "flag", Type: abi.TypeU8, U8: []uint8{2, 8}})}, `row 1: column "flag": 8 exceeds 7`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewWriter(Options{Link: LinkRaw, Snaplen: DefaultSnaplen})
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Encode(nil, c.b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
	for _, opt := range []Options{
		{Link: LinkRaw, Snaplen: 39},
		{Link: LinkEthernet, Snaplen: 50},
		{Link: LinkRaw, Snaplen: maxCaplen + 1},
		{Link: 147, Snaplen: DefaultSnaplen},
		{Link: LinkIPv6, Snaplen: DefaultSnaplen},
	} {
		if _, err := NewWriter(opt); err == nil {
			t.Errorf("NewWriter(%+v) accepted", opt)
		}
	}
}

// TestEmptyCapture: no records still make a valid, readable file.
func TestEmptyCapture(t *testing.T) {
	for _, ng := range []bool{false, true} {
		e, err := NewWriter(Options{Link: LinkEthernet, Snaplen: DefaultSnaplen, PCAPNG: ng})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.End(nil)
		if err != nil {
			t.Fatal(err)
		}
		rs, st, err := decodeAll(t, out, 0)
		if err != nil || len(rs) != 0 || st.Records != 0 {
			t.Fatalf("pcapng=%v: %d records, %v", ng, len(rs), err)
		}
	}
}

// TestDispatcher drives the component through the sdk's wire protocol, as
// the host does: detect, decode in pieces, encode with parameters.
func TestDispatcher(t *testing.T) {
	d := sdk.NewDispatcher()
	call := func(op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte) {
		t.Helper()
		req, err := abi.AppendRequest(nil, header, body)
		if err != nil {
			t.Fatal(err)
		}
		h, b, err := abi.SplitResponse(d.Call(op, handle, req))
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return append([]byte(nil), h...), append([]byte(nil), b...)
	}
	open := func(mode string, params map[string]any) uint32 {
		h, _ := call(abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindFormat, Name: "pcap", Mode: mode, Params: params}, nil)
		var r abi.OpenReply
		if err := json.Unmarshal(h, &r); err != nil {
			t.Fatal(err)
		}
		return r.Handle
	}
	rs := []rec{
		{TS: 10, Src: 1, Dst: 2, Sport: 3, Dport: 4, Proto: 6, Len: 40, TTL: 9, TCPFlags: 2},
		{TS: 11, Src: 2, Dst: 1, Sport: 4, Dport: 3, Proto: 17, Len: 200, TTL: 9},
	}
	enc := open(abi.ModeWrite, map[string]any{"linktype": "ethernet", "pcapng": true, "precision": "ns"})
	_, body := call(abi.OpWrite, enc, nil, abi.AppendBatch(nil, toBatch(rs)))
	_, tail := call(abi.OpWriteEnd, enc, nil, nil)
	file := append(body, tail...)

	dec := open(abi.ModeRead, nil)
	h, _ := call(abi.OpDetect, dec, nil, file[:16])
	var det abi.DetectReply
	if err := json.Unmarshal(h, &det); err != nil || !det.Match {
		t.Fatalf("detect: %s %v", h, err)
	}
	var got []rec
	for p := file; len(p) > 0; p = p[min(len(p), 50):] {
		_, b := call(abi.OpRead, dec, nil, p[:min(len(p), 50)])
		batch, err := abi.DecodeBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, records(t, batch)...)
	}
	h, _ = call(abi.OpReadEnd, dec, nil, nil)
	var st abi.ReadStats
	if err := json.Unmarshal(h, &st); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rs) || st.Records != 2 || st.Notes["linktype"] != "1 (ethernet)" || st.Notes["container"] != "pcapng" {
		t.Fatalf("records %+v, stats %+v", got, st)
	}
	// Bad parameters are refused at open, naming the parameter.
	req, _ := abi.AppendRequest(nil, abi.OpenRequest{Kind: abi.KindFormat, Name: "pcap", Mode: abi.ModeWrite, Params: map[string]any{"linktype": "token-ring"}}, nil)
	if _, _, err := abi.SplitResponse(d.Call(abi.OpOpen, 0, req)); err == nil || !strings.Contains(err.Error(), "linktype") {
		t.Fatalf("bad linktype: %v", err)
	}
}
