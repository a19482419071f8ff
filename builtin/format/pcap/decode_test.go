package pcap

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestRealFilesCounts checks every real capture's totals against counts
// made independently (the data README and tshark: `tshark -r F -Y '!ip'`,
// `tshark -o ip.defragment:FALSE -r F -Y 'ip.frag_offset > 0'`).
func TestRealFilesCounts(t *testing.T) {
	files := realFiles(t)
	want := map[string]struct {
		records int64
		skipped map[string]int64
		notes   map[string]string
	}{
		"caida_equinix-nyc_2018-03-15_10kpkts.pcapng": {9988, map[string]int64{"fragment": 12},
			map[string]string{"container": "pcapng", "linktype": "101 (raw)", "precision": "microsecond", "byte_order": "little-endian", "sections": "1"}},
		"cicddos2019_synflood_lucid-sample.pcap": {26316, nil,
			map[string]string{"container": "pcap", "linktype": "1 (ethernet)", "precision": "microsecond", "byte_order": "little-endian"}},
		"stopddos_amp.TCP.reflection.SYNACK.pcap": {7995, map[string]int64{"not-ipv4": 4, "fragment": 1}, nil},
		"stopddos_amp.UDP.bacnet.IOT.37810.pcap":  {9617, nil, nil},
		"stopddos_pkt.TCP.synflood.spoofed.pcap":  {37841, nil, nil},
	}
	for name, data := range files {
		w, ok := want[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			rs, st, err := decodeAll(t, data, 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Records != w.records || int64(len(rs)) != w.records {
				t.Errorf("records: stats %d, rows %d, want %d", st.Records, len(rs), w.records)
			}
			if !reflect.DeepEqual(st.Skipped, w.skipped) {
				t.Errorf("skipped %v, want %v", st.Skipped, w.skipped)
			}
			if w.notes != nil && !reflect.DeepEqual(st.Notes, w.notes) {
				t.Errorf("notes %v, want %v", st.Notes, w.notes)
			}
		})
	}
}

// TestPieces feeds each real capture in pieces of many sizes, so that
// headers, records and blocks straddle pieces at every kind of place: the
// records must not depend on where the stream was cut. Tiny pieces run on
// a prefix (cut mid-record, so End's error must agree too) to stay fast.
func TestPieces(t *testing.T) {
	files := realFiles(t)
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{1, 3, 17, 4093, 65536, 1 << 20} {
				in := data
				if n < 64 {
					in = data[:min(len(data), 150_001)]
				}
				whole, wst, werr := decodeAll(t, in, 0)
				rs, st, err := decodeAll(t, in, n)
				if fmt.Sprint(err) != fmt.Sprint(werr) {
					t.Fatalf("pieces of %d: error %v, whole: %v", n, err, werr)
				}
				if !reflect.DeepEqual(rs, whole) || !reflect.DeepEqual(st, wst) {
					t.Fatalf("pieces of %d: %d records %v, whole: %d records %v", n, len(rs), st, len(whole), wst)
				}
				if len(whole) == 0 {
					t.Fatalf("pieces of %d: no records at all", n)
				}
			}
		})
	}
}

// TestFrames decodes hand-made frames of every supported link layer and
// the cases that must be skipped, each under its reason.
func TestFrames(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	tcp := ipv4(6, 0x4000, tcpSeg(0x12), 0)
	ok := []rec{tcpRec(1_000_002, 0x12, 0x4000)}
	ipv6 := append([]byte{0x60, 0, 0, 0, 0, 0, 59, 64}, make([]byte, 32)...)
	sll := func(proto uint16, p []byte) []byte {
		h := []byte{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}
		return append(be.AppendUint16(h, proto), p...)
	}
	sll2 := func(proto uint16, p []byte) []byte {
		h := be.AppendUint16(nil, proto)
		return append(append(h, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0), p...)
	}
	cases := []struct {
		name    string
		link    uint32
		frame   []byte
		want    []rec
		skipped string
	}{
		{"ethernet", LinkEthernet, ether(0x0800, nil, tcp), ok, ""},
		{"802.1Q", LinkEthernet, ether(0x0800, []uint16{0x8100}, tcp), ok, ""},
		{"QinQ 88a8", LinkEthernet, ether(0x0800, []uint16{0x88a8, 0x8100}, tcp), ok, ""},
		{"QinQ 9100", LinkEthernet, ether(0x0800, []uint16{0x9100, 0x8100}, tcp), ok, ""},
		{"ethernet IPv6", LinkEthernet, ether(0x86dd, nil, ipv6), nil, "not-ipv4"},
		{"ARP", LinkEthernet, ether(0x0806, nil, make([]byte, 28)), nil, "not-ipv4"},
		{"VLAN tag cut", LinkEthernet, ether(0x8100, nil, nil)[:14], nil, "truncated"},
		{"ethernet header cut", LinkEthernet, make([]byte, 10), nil, "truncated"},
		{"ethernet says IPv4, header is v6", LinkEthernet, ether(0x0800, nil, ipv6), nil, "bad-ip-header"},
		{"raw", LinkRaw, tcp, ok, ""},
		{"raw BSD 12", LinkRawBSD, tcp, ok, ""},
		{"raw OpenBSD 14", LinkRawOBSD, tcp, ok, ""},
		{"ipv4 228", LinkIPv4, tcp, ok, ""},
		{"raw IPv6", LinkRaw, ipv6, nil, "not-ipv4"},
		{"ipv6 229", LinkIPv6, ipv6, nil, "not-ipv4"},
		{"ipv4 228 holding v6", LinkIPv4, ipv6, nil, "bad-ip-header"},
		{"sll", LinkSLL, sll(0x0800, tcp), ok, ""},
		{"sll IPv6", LinkSLL, sll(0x86dd, ipv6), nil, "not-ipv4"},
		{"sll cut", LinkSLL, sll(0x0800, nil)[:12], nil, "truncated"},
		{"sll2", LinkSLL2, sll2(0x0800, tcp), ok, ""},
		{"sll2 ARP", LinkSLL2, sll2(0x0806, make([]byte, 28)), nil, "not-ipv4"},
		{"null little-endian host", LinkNull, append(le.AppendUint32(nil, 2), tcp...), ok, ""},
		{"null big-endian host", LinkNull, append(be.AppendUint32(nil, 2), tcp...), ok, ""},
		{"null AF_INET6 (BSD 24)", LinkNull, append(le.AppendUint32(nil, 24), ipv6...), nil, "not-ipv4"},
		{"null AF_INET6 (macOS 30, big-endian host)", LinkNull, append(be.AppendUint32(nil, 30), ipv6...), nil, "not-ipv4"},
		{"loop", LinkLoop, append(be.AppendUint32(nil, 2), tcp...), ok, ""},
		// LOOP is always network order: a little-endian 2 is not AF_INET.
		{"loop with host-order family", LinkLoop, append(le.AppendUint32(nil, 2), tcp...), nil, "not-ipv4"},
		{"unsupported link type", 147, tcp, nil, "unsupported-linktype"},
		{"IP header cut", LinkRaw, tcp[:19], nil, "truncated"},
		{"TCP flags cut", LinkRaw, tcp[:33], nil, "truncated"},
		{"IHL 4", LinkRaw, func() []byte { p := append([]byte(nil), tcp...); p[0] = 0x44; return p }(), nil, "bad-ip-header"},
		{"total length below IHL", LinkRaw, ipv4(6, 0, tcpSeg(2), 12), nil, "bad-ip-header"},
		{"non-first fragment", LinkRaw, ipv4(6, 0x00b9, make([]byte, 20), 0), nil, "fragment"},
		{"first fragment keeps ports", LinkRaw, ipv4(6, 0x2000, tcpSeg(0x18), 0), []rec{tcpRec(1_000_002, 0x18, 0x2000)}, ""},
		{"UDP", LinkRaw, ipv4(17, 0, udpDgram(), 0), []rec{{TS: 1_000_002, Src: 0x0a000001, Dst: 0xc0a80709, Sport: 5000, Dport: 53, Proto: 17, Len: 28, TOS: 0x10, ID: 0x1234, TTL: 61}}, ""},
		{"UDP ports cut", LinkRaw, ipv4(17, 0, udpDgram()[:3], 0), nil, "truncated"},
		{"ICMP type and code in ports", LinkRaw, ipv4(1, 0, []byte{3, 13, 0, 0, 0, 0, 0, 0}, 0), []rec{{TS: 1_000_002, Src: 0x0a000001, Dst: 0xc0a80709, Sport: 3, Dport: 13, Proto: 1, Len: 28, TOS: 0x10, ID: 0x1234, TTL: 61}}, ""},
		{"ICMP cut", LinkRaw, ipv4(1, 0, []byte{8}, 0), nil, "truncated"},
		{"GRE kept with ports 0", LinkRaw, ipv4(47, 0, []byte{0, 0, 8, 0}, 0), []rec{{TS: 1_000_002, Src: 0x0a000001, Dst: 0xc0a80709, Proto: 47, Len: 24, TOS: 0x10, ID: 0x1234, TTL: 61}}, ""},
		{"IP options before TCP", LinkRaw, func() []byte {
			h := []byte{0x46, 0x10, 0, 44, 0x12, 0x34, 0x40, 0, 61, 6, 0, 0, 10, 0, 0, 1, 192, 168, 7, 9, 1, 1, 1, 0}
			return append(h, tcpSeg(0x12)...)
		}(), []rec{func() rec { r := tcpRec(1_000_002, 0x12, 0x4000); r.Len = 44; return r }()}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, bo := range []order{le, be} {
				file := classicFile(bo, magicMicro, c.link, frame{sec: 1, frac: 2, data: c.frame})
				rs, st, err := decodeAll(t, file, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(rs, c.want) {
					t.Fatalf("%v: records\n%+v\nwant\n%+v", bo, rs, c.want)
				}
				var wantSkip map[string]int64
				if c.skipped != "" {
					wantSkip = map[string]int64{c.skipped: 1}
				}
				if !reflect.DeepEqual(st.Skipped, wantSkip) || st.Records != int64(len(c.want)) {
					t.Fatalf("%v: stats %+v, want %d records, skipped %v", bo, st, len(c.want), wantSkip)
				}
			}
		})
	}
}

// TestContainers reads the same packets from every container variant.
func TestContainers(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	tcp := ipv4(6, 0x4000, tcpSeg(0x02), 0)
	eth := ether(0x0800, nil, tcp)
	at := func(ts ...int64) []rec {
		var out []rec
		for _, x := range ts {
			out = append(out, tcpRec(x, 0x02, 0x4000))
		}
		return out
	}
	const sec = 1_500_000_000
	cases := []struct {
		name  string
		file  []byte
		want  []rec
		notes map[string]string
	}{
		{"classic µs little-endian", classicFile(le, magicMicro, LinkEthernet, frame{sec: sec, frac: 999_999, data: eth}),
			at(sec*1e6 + 999_999), map[string]string{"container": "pcap", "byte_order": "little-endian", "linktype": "1 (ethernet)", "precision": "microsecond"}},
		{"classic µs big-endian", classicFile(be, magicMicro, LinkRaw, frame{sec: sec, frac: 7, data: tcp}),
			at(sec*1e6 + 7), map[string]string{"container": "pcap", "byte_order": "big-endian", "linktype": "101 (raw)", "precision": "microsecond"}},
		{"classic ns rounds down", classicFile(le, magicNano, LinkRaw, frame{sec: sec, frac: 123_456_789, data: tcp}),
			at(sec*1e6 + 123_456), map[string]string{"container": "pcap", "byte_order": "little-endian", "linktype": "101 (raw)", "precision": "nanosecond (records keep microseconds, rounded down)"}},
		{"classic ns big-endian", classicFile(be, magicNano, LinkRaw, frame{sec: sec, frac: 999, data: tcp}), at(sec * 1e6), nil},
		{"modified (Kuznetzov) pcap", classicFile(le, magicKuznetzov, LinkEthernet, frame{sec: sec, frac: 5, data: eth}, frame{sec: sec + 1, data: eth}),
			at(sec*1e6+5, (sec+1)*1e6), nil},
		{"link type with FCS bits", classicFile(le, magicMicro, 1<<28|0x04000000|LinkEthernet, frame{sec: 1, data: eth}), at(1e6), nil},
		{"pcapng two interfaces, resolutions, offset, SPB, OPB, unknown blocks",
			cat(ngSHB(le),
				ngIDB(le, LinkEthernet, -1, 0),       // µs by default
				ngIDB(le, LinkRaw, 9, 0),             // ns
				ngIDB(le, LinkSLL2, 0x80|20, 0),      // 2^-20 s
				ngIDB(le, LinkRaw, 3, 1_000_000_000), // ms, 1e9 s offset
				ngEPB(le, 0, sec*1e6+1, eth),
				ngBlock(le, 5, make([]byte, 16)),     // interface statistics: skipped
				ngBlock(le, 0x40000bad, []byte("x")), // custom block: skipped
				ngEPB(le, 1, sec*1e9+2_999, tcp),
				ngEPB(le, 2, 3<<20|1<<19, append([]byte{8, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, tcp...)),
				ngEPB(le, 3, 4_001, tcp),
				ngSPB(le, eth),
				ngOPB(le, 1, 7_000_000_000, tcp),
			),
			at(sec*1e6+1, sec*1e6+2, 3_500_000, 1_000_000_004_001_000, 1_000_000_004_001_000, 7_000_000),
			map[string]string{"container": "pcapng", "byte_order": "little-endian", "sections": "1", "skipped_blocks": "2",
				"linktype":  "1 (ethernet), 101 (raw), 276 (sll2)",
				"precision": "microsecond, nanosecond, 2^-20 s, millisecond (records keep microseconds, rounded down)"}},
		{"pcapng big-endian", cat(ngSHB(be), ngIDB(be, LinkRaw, 6, 0), ngEPB(be, 0, 42, tcp)), at(42),
			map[string]string{"container": "pcapng", "byte_order": "big-endian", "sections": "1", "linktype": "101 (raw)", "precision": "microsecond"}},
		{"pcapng sections of both byte orders", cat(ngSHB(be), ngIDB(be, LinkRaw, 6, 0), ngEPB(be, 0, 42, tcp),
			ngSHB(le), ngIDB(le, LinkEthernet, 6, 0), ngIDB(le, LinkRaw, 6, 0), ngEPB(le, 1, 43, tcp), ngEPB(le, 0, 44, eth)),
			at(42, 43, 44), map[string]string{"container": "pcapng", "byte_order": "little-endian", "sections": "2", "linktype": "101 (raw), 1 (ethernet)", "precision": "microsecond"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !Detect(c.file) {
				t.Error("Detect says no")
			}
			for _, piece := range []int{0, 1, 5} {
				rs, st, err := decodeAll(t, c.file, piece)
				if err != nil {
					t.Fatalf("pieces of %d: %v", piece, err)
				}
				if !reflect.DeepEqual(rs, c.want) {
					t.Fatalf("pieces of %d: records\n%+v\nwant\n%+v", piece, rs, c.want)
				}
				if c.notes != nil && !reflect.DeepEqual(st.Notes, c.notes) {
					t.Fatalf("notes\n%v\nwant\n%v", st.Notes, c.notes)
				}
			}
		})
	}
}

// TestBadInput: broken files give an error naming the offset (and packet
// number where there is one), never a panic or silent success.
func TestBadInput(t *testing.T) {
	le := binary.LittleEndian
	tcp := ipv4(6, 0, tcpSeg(0x10), 0)
	good := classicFile(le, magicMicro, LinkRaw, frame{sec: 1, data: tcp}, frame{sec: 2, data: tcp})
	ng := cat(ngSHB(le), ngIDB(le, LinkRaw, 6, 0), ngEPB(le, 0, 1, tcp))
	mut := func(b []byte, at int, v ...byte) []byte {
		b = append([]byte(nil), b...)
		copy(b[at:], v)
		return b
	}
	cases := []struct {
		name string
		file []byte
		want string // substrings of the error, separated by |
	}{
		{"empty", nil, "offset 0|too short"},
		{"three bytes", []byte{0xd4, 0xc3, 0xb2}, "offset 0|too short"},
		{"wrong magic", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "offset 0|not a pcap"},
		{"header cut", good[:20], "offset 0|too short"},
		{"version 3", mut(good, 4, 3), "offset 4|version 3"},
		{"cut inside the second packet", good[:len(good)-5], "offset 80|packet 2|needs 56 bytes, only 51"},
		{"cut inside a record header", good[:24+56+3], "offset 80|packet 2"},
		{"captured length absurd", mut(good, 24+8, 0xff, 0xff, 0xff, 0x7f), "offset 24|packet 1|captured length"},
		{"pcapng bad byte-order magic", mut(ng, 8, 1, 2, 3, 4), "offset 0|byte-order magic"},
		{"pcapng version 2", mut(ng, 12, 2), "offset 0|version 2"},
		{"pcapng block length not a multiple of 4", mut(ng, 28+4, 21), "offset 28|bad length 21"},
		{"pcapng block length below minimum", mut(ng, 28+4, 8), "offset 28|bad length 8"},
		{"pcapng trailing length differs", mut(ng, len(ng)-4, 9), "offset 72|length 72 at its start, 9 at its end"},
		{"pcapng unknown interface", mut(ng, 72+8, 5), "offset 72|packet 1|interface 5"},
		{"pcapng captured length overruns block", mut(ng, 72+20, 200), "offset 72|packet 1|overruns"},
		{"pcapng cut", ng[:len(ng)-1], "offset 72|cut short"},
		{"pcapng packet before interface", cat(ngSHB(le), ngEPB(le, 0, 1, tcp)), "offset 28|packet 1|interface 0"},
		{"pcapng option overruns", cat(ngSHB(le), ngBlock(le, 1, []byte{101, 0, 0, 0, 0, 0, 1, 0, 9, 0, 40, 0})), "offset 28|overruns"},
		{"pcapng if_tsresol too fine", cat(ngSHB(le), ngIDB(le, LinkRaw, 30, 0)), "offset 28|if_tsresol"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, piece := range []int{0, 1, 7} {
				_, _, err := decodeAll(t, c.file, piece)
				if err == nil {
					t.Fatalf("pieces of %d: no error", piece)
				}
				for _, w := range strings.Split(c.want, "|") {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("pieces of %d: error %q does not say %q", piece, err, w)
					}
				}
			}
		})
	}
	// An error is sticky: later calls repeat it rather than resync on
	// garbage.
	d := NewReader()
	if _, err := d.Decode([]byte("not a capture at all, really")); err == nil {
		t.Fatal("no error")
	}
	if _, err := d.Decode(good); err == nil {
		t.Fatal("decoder recovered after an error")
	}
	if _, _, err := d.End(); err == nil {
		t.Fatal("End after an error succeeded")
	}
}

func TestDetect(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		head []byte
		want bool
	}{
		{[]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0}, true},
		{[]byte{0xa1, 0xb2, 0xc3, 0xd4}, true},
		{[]byte{0x4d, 0x3c, 0xb2, 0xa1}, true},
		{[]byte{0xa1, 0xb2, 0x3c, 0x4d}, true},
		{[]byte{0x34, 0xcd, 0xb2, 0xa1}, true},
		{ngSHB(le), true},
		{ngSHB(binary.BigEndian), true},
		{[]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4}, false},
		{[]byte("srcip,dstip,srcport"), false},
		{[]byte{0xd4, 0xc3, 0xb2}, false},
		{nil, false},
	}
	for i, c := range cases {
		if got := Detect(c.head); got != c.want {
			t.Errorf("case %d (% x): Detect = %v, want %v", i, c.head[:min(len(c.head), 12)], got, c.want)
		}
	}
}

// TestDecodeReusesBatch: steady-state decoding allocates nothing per
// packet (the batch and its columns are reused).
func TestDecodeReusesBatch(t *testing.T) {
	le := binary.LittleEndian
	var frames []frame
	for i := range 200 {
		frames = append(frames, frame{sec: uint32(i), data: ether(0x0800, nil, ipv4(6, 0, tcpSeg(0x10), 0))})
	}
	file := classicFile(le, magicMicro, LinkEthernet, frames...)
	body := file[24:]
	d := NewReader()
	if _, err := d.Decode(file); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		b, err := d.Decode(body)
		if err != nil || b.Len() != 200 {
			t.Fatalf("%v, %d rows", err, b.Len())
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per call of 200 packets", allocs)
	}
}
