package pcap

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/netshare/netshare/internal/shareddata"
)

// fuzzDecode is the property both fuzz targets check on any input: no
// panic; the same records, stats and error whether the stream comes whole
// or cut at an arbitrary point; and records that decode cleanly survive
// a write and a re-read unchanged.
func fuzzDecode(t *testing.T, data []byte, cut uint16) {
	whole, wst, werr := decodeAll(t, data, 0)
	piece := int(cut)%max(len(data), 1) + 1
	rs, st, err := decodeAll(t, data, piece)
	if fmt.Sprint(err) != fmt.Sprint(werr) {
		t.Fatalf("pieces of %d: error %v; whole: %v", piece, err, werr)
	}
	if werr != nil {
		// A failed call returns no records, so how many came before the
		// error depends on the cut; the error itself may not.
		return
	}
	if !reflect.DeepEqual(rs, whole) || !reflect.DeepEqual(st, wst) {
		t.Fatalf("pieces of %d: %d records %+v; whole: %d records %+v", piece, len(rs), st, len(whole), wst)
	}
	if len(whole) == 0 {
		return
	}
	for _, r := range whole {
		if r.TS < 0 {
			return // a corrupt pcapng offset or resolution: not writable
		}
	}
	e, err := NewWriter(Options{Link: LinkEthernet, Snaplen: DefaultSnaplen, PCAPNG: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Encode(nil, toBatch(whole))
	if err != nil {
		t.Fatalf("re-encoding decoded records: %v", err)
	}
	if len(e.Fixes()) > 0 {
		return // pkt_len below the headers in the input: raised on writing
	}
	back, _, err := decodeAll(t, out, 0)
	if err != nil {
		t.Fatalf("re-reading: %v", err)
	}
	if !reflect.DeepEqual(back, whole) {
		t.Fatalf("round trip changed records:\n%+v\n%+v", back, whole)
	}
}

// fuzzSeeds adds the first 64 KiB of each real capture of the container
// (when present) and small hand-made files.
func fuzzSeeds(f *testing.F, ng bool, hand ...[]byte) {
	for _, h := range hand {
		f.Add(h, uint16(7))
	}
	// Without the real traces the hand-made seeds still run.
	dir, _ := shareddata.Lookup("pcap")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil || len(data) < 4 {
			continue
		}
		if (binary.BigEndian.Uint32(data) == blockSHB) == ng {
			f.Add(data[:min(len(data), 64<<10)], uint16(4093))
		}
	}
}

func FuzzPcap(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	tcp := ipv4(6, 0x4000, tcpSeg(0x12), 0)
	fuzzSeeds(f, false,
		classicFile(le, magicMicro, LinkEthernet, frame{sec: 1, data: ether(0x0800, []uint16{0x8100, 0x88a8}, tcp)}),
		classicFile(be, magicNano, LinkRaw, frame{sec: 1, frac: 5, data: tcp}, frame{sec: 2, data: ipv4(1, 0, []byte{3, 3, 0, 0, 0, 0, 0, 0}, 0)}),
		classicFile(le, magicKuznetzov, LinkSLL, frame{data: append([]byte{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 8, 0}, tcp...)}),
		classicFile(le, magicMicro, LinkNull, frame{data: append([]byte{2, 0, 0, 0}, ipv4(17, 0x2000, udpDgram(), 0)...)}),
		classicFile(be, magicMicro, LinkLoop, frame{data: append([]byte{0, 0, 0, 2}, ipv4(47, 0, nil, 0)...)}),
	)
	f.Fuzz(fuzzDecode)
}

func FuzzPcapng(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	tcp := ipv4(6, 0x4000, tcpSeg(0x12), 0)
	fuzzSeeds(f, true,
		cat(ngSHB(le), ngIDB(le, LinkEthernet, -1, 0), ngIDB(le, LinkRaw, 9, 0), ngEPB(le, 0, 5, ether(0x0800, nil, tcp)), ngEPB(le, 1, 6_000, tcp)),
		cat(ngSHB(be), ngIDB(be, LinkRaw, 0x80|20, 3), ngSPB(be, tcp), ngOPB(be, 0, 1<<20, tcp), ngBlock(be, 5, make([]byte, 8))),
		cat(ngSHB(le), ngIDB(le, LinkSLL2, 6, 0), ngEPB(le, 0, 1, append([]byte{8, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, tcp...)),
			ngSHB(be), ngIDB(be, LinkNull, 6, 0), ngEPB(be, 0, 2, append([]byte{0, 0, 0, 2}, tcp...))),
	)
	f.Fuzz(fuzzDecode)
}

// FuzzRoundTrip writes fuzzer-made records with fuzzer-chosen settings and
// reads them back: the records must come back as written, changed only by
// the documented fix-ups (pkt_len raised to fit the headers, ICMP type and
// code clamped to 255, non-first fragments skipped, ports and flags zero
// where the protocol has none; with TCP sessions, TCP flags as counted in
// the session fix-ups).
func FuzzRoundTrip(f *testing.F) {
	f.Add(byte(0), []byte("\x06\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x00\x50\x01\xbb\x05\xdc\x10\x00\x01\x40\x00\x00\x40\x18"))
	f.Add(byte(0x7f), []byte("\x01\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x01\x03\x00\x03\x00\x20\x00\x00\x01\x00\x00\x00\x40\x00"))
	f.Fuzz(func(t *testing.T, settings byte, data []byte) {
		links := []uint32{LinkRaw, LinkIPv4, LinkEthernet, LinkSLL, LinkSLL2, LinkNull, LinkLoop}
		opt := Options{Link: links[int(settings&7)%len(links)], Snaplen: DefaultSnaplen,
			PCAPNG: settings&8 != 0, Nano: settings&16 != 0, ZeroPayload: settings&32 != 0, Sessions: settings&64 != 0}
		const size = 26
		var in, want []rec
		for ; len(data) >= size; data = data[size:] {
			be := binary.BigEndian
			r := rec{
				TS:  int64(be.Uint32(data)) * 1_000_003 % (1 << 32 * 1e6),
				Src: be.Uint32(data[4:]), Dst: be.Uint32(data[8:]),
				Sport: be.Uint16(data[12:]), Dport: be.Uint16(data[14:]),
				Len: be.Uint16(data[16:]), TOS: data[18], ID: be.Uint16(data[19:]),
				Flag: data[21] & 7, Off: be.Uint16(data[22:]) & 0x1fff, TTL: data[24], TCPFlags: data[25],
				Proto: []uint8{6, 17, 1, 47, 50, 4}[int(data[0]>>5)%6],
			}
			if data[1]&1 == 0 {
				r.Off = 0 // mostly unfragmented
			}
			in = append(in, r)
			if r.Off != 0 {
				continue // non-first fragment: skipped on reading
			}
			w := r
			minLen := uint16(20)
			switch r.Proto {
			case 6:
				minLen = 40
			case 17:
				minLen = 28
				w.TCPFlags = 0
			case 1:
				w.Sport, w.Dport, w.TCPFlags = min(r.Sport, 255), min(r.Dport, 255), 0
				minLen = 28
				if icmpError(r.Sport) {
					minLen = 56
				}
			default:
				w.Sport, w.Dport, w.TCPFlags = 0, 0, 0
			}
			w.Len = max(r.Len, minLen)
			want = append(want, w)
		}
		e, err := NewWriter(opt)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Encode(nil, toBatch(in))
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		if out, err = e.End(out); err != nil {
			t.Fatal(err)
		}
		back, st, err := decodeAll(t, out, 0)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if opt.Sessions && len(back) == len(want) {
			// The session writer may change TCP flags; each change is
			// a counted fix-up.
			changed := int64(0)
			for i := range back {
				if back[i].TCPFlags != want[i].TCPFlags {
					changed++
					want[i].TCPFlags = back[i].TCPFlags
				}
			}
			fixed := int64(0)
			for k, n := range e.Fixes() {
				if strings.HasPrefix(k, "tcp-") && k != FixDataAfterFin {
					fixed += n
				}
			}
			if changed > fixed {
				t.Fatalf("%d records changed flags, %d fix-ups counted (%v)", changed, fixed, e.Fixes())
			}
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("%+v: read back\n%+v\nwant\n%+v", opt, back, want)
		}
		if int(st.Records+st.Skipped["fragment"]) != len(in) || len(st.Skipped) > 1 {
			t.Fatalf("stats %+v for %d records", st, len(in))
		}
	})
}
