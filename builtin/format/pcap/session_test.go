package pcap

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tcpSeen is the TCP header of one written packet.
type tcpSeen struct {
	sport, dport uint16
	seq, ack     uint32
	hlen         int // header length, options included
	flags        uint8
	win          uint16
	opts         []byte
	data         int // payload bytes (IP total length − headers)
}

// tcpHeaders reads the TCP headers back from a classic raw-IP capture.
func tcpHeaders(t *testing.T, file []byte) []tcpSeen {
	t.Helper()
	var out []tcpSeen
	for p := 24; p+16 <= len(file); {
		caplen := int(binary.LittleEndian.Uint32(file[p+8:]))
		pkt := file[p+16 : p+16+caplen]
		p += 16 + caplen
		if pkt[9] != 6 {
			continue
		}
		total := int(binary.BigEndian.Uint16(pkt[2:]))
		h := pkt[20:]
		hl := int(h[12]>>4) * 4
		out = append(out, tcpSeen{
			sport: binary.BigEndian.Uint16(h), dport: binary.BigEndian.Uint16(h[2:]),
			seq: binary.BigEndian.Uint32(h[4:]), ack: binary.BigEndian.Uint32(h[8:]),
			hlen: hl, flags: h[13], win: binary.BigEndian.Uint16(h[14:]), opts: h[20:hl], data: total - 20 - hl,
		})
	}
	return out
}

func sessionOpt() Options { return Options{Link: LinkRaw, Snaplen: DefaultSnaplen, Sessions: true} }

// conversation builds records between client 10.0.0.1:40000 and server
// 192.168.0.1:443: each step is (from client?, length, flags).
func conversation(steps ...[3]int) []rec {
	var rs []rec
	for i, s := range steps {
		r := rec{TS: int64(1_700_000_000_000_000 + i*1000), Src: 0x0a000001, Dst: 0xc0a80001, Sport: 40000, Dport: 443,
			Proto: 6, Len: uint16(s[1]), TTL: 64, TCPFlags: uint8(s[2])}
		if s[0] == 0 {
			r.Src, r.Dst, r.Sport, r.Dport = r.Dst, r.Src, r.Dport, r.Sport
		}
		rs = append(rs, r)
	}
	return rs
}

const cli, srv = 1, 0

func TestSessionHandshakeDataTeardown(t *testing.T) {
	rs := conversation(
		[3]int{cli, 60, 0x02},  // SYN with room for Linux's options
		[3]int{srv, 60, 0x10},  // generated as a bare ACK: must become the SYN-ACK
		[3]int{cli, 52, 0x00},  // no flags: must gain ACK
		[3]int{cli, 352, 0x18}, // request, 300 bytes after the timestamps
		[3]int{srv, 1500, 0x10},
		[3]int{srv, 900, 0x18},
		[3]int{cli, 52, 0x10},
		[3]int{cli, 52, 0x11}, // FIN
		[3]int{cli, 52, 0x11}, // a second FIN: cleared
		[3]int{srv, 52, 0x11},
		[3]int{cli, 52, 0x10},
	)
	file, e := encodeAll(t, sessionOpt(), toBatch(rs), 4)
	h := tcpHeaders(t, file)
	wantFlags := []uint8{0x02, 0x12, 0x10, 0x18, 0x10, 0x18, 0x10, 0x11, 0x10, 0x11, 0x10}
	for i, w := range wantFlags {
		if h[i].flags != w {
			t.Errorf("packet %d: flags %#x, want %#x", i+1, h[i].flags, w)
		}
	}
	c0, s0 := h[0].seq, h[1].seq
	// Sequence numbers follow payload lengths; SYN and FIN count one.
	wantSeq := []uint32{c0, s0, c0 + 1, c0 + 1, s0 + 1, s0 + 1 + 1448, c0 + 301, c0 + 301, c0 + 302, s0 + 1 + 1448 + 848, c0 + 302}
	wantAck := []uint32{0, c0 + 1, s0 + 1, s0 + 1, c0 + 301, c0 + 301, s0 + 2297, s0 + 2297, s0 + 2297, c0 + 302, s0 + 2298}
	for i := range wantSeq {
		if h[i].seq != wantSeq[i] || h[i].ack != wantAck[i] {
			t.Errorf("packet %d: seq %d ack %d, want %d %d", i+1, h[i].seq-c0, h[i].ack, wantSeq[i]-c0, wantAck[i])
		}
	}
	// Options: both SYNs offer Linux's set, so every later segment with
	// room carries timestamps; windows as a stack sends them.
	if h[0].hlen != 40 || h[1].hlen != 40 || h[0].opts[0] != 2 || h[0].opts[19] != wsShift {
		t.Errorf("SYN options: %d and %d bytes of header, options %v", h[0].hlen, h[1].hlen, h[0].opts)
	}
	for i := 2; i < len(h); i++ {
		if h[i].hlen != 32 || h[i].opts[2] != 8 {
			t.Errorf("packet %d: header %d bytes, options %v: want timestamps", i+1, h[i].hlen, h[i].opts)
		}
		if h[i].win != winScaled {
			t.Errorf("packet %d: window %d, want %d", i+1, h[i].win, winScaled)
		}
	}
	if h[0].win != winSYN || h[1].win != winSYNACK {
		t.Errorf("SYN windows %d, %d", h[0].win, h[1].win)
	}
	// The server's timestamps echo the client's.
	if tsecr, tsval := binary.BigEndian.Uint32(h[1].opts[12:]), binary.BigEndian.Uint32(h[0].opts[8:]); tsecr != tsval || tsval == 0 {
		t.Errorf("SYN-ACK echoes %d, the SYN sent %d", tsecr, tsval)
	}
	if tsecr, tsval := binary.BigEndian.Uint32(h[2].opts[8:]), binary.BigEndian.Uint32(h[1].opts[8:]); tsecr != tsval {
		t.Errorf("ACK echoes %d, the SYN-ACK sent %d", tsecr, tsval)
	}
	want := map[string]int64{FixSynAck: 1, FixAckSet: 1, FixFinCleared: 1}
	for k, v := range want {
		if e.Fixes()[k] != v {
			t.Errorf("fix %s: %d, want %d (all: %v)", k, e.Fixes()[k], v, e.Fixes())
		}
	}
}

func TestSessionCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps [][3]int
		flags []uint8
		check func(t *testing.T, h []tcpSeen)
	}{
		{"unanswered SYNs keep their sequence number", [][3]int{{cli, 40, 0x02}, {cli, 40, 0x02}, {cli, 44, 0x02}},
			[]uint8{0x02, 0x02, 0x02}, func(t *testing.T, h []tcpSeen) {
				if h[1].seq != h[0].seq || h[2].seq != h[0].seq || h[0].hlen != 20 || h[2].hlen != 24 {
					t.Errorf("retransmitted SYNs: %+v", h)
				}
			}},
		{"refused", [][3]int{{cli, 40, 0x02}, {srv, 40, 0x04}}, []uint8{0x02, 0x14}, func(t *testing.T, h []tcpSeen) {
			if h[1].ack != h[0].seq+1 {
				t.Errorf("RST-ACK acknowledges %d, SYN was %d", h[1].ack, h[0].seq)
			}
		}},
		{"mid-capture start", [][3]int{{srv, 540, 0x18}, {cli, 40, 0x10}, {srv, 40, 0x10}}, []uint8{0x18, 0x10, 0x10},
			func(t *testing.T, h []tcpSeen) {
				if h[1].ack != h[0].seq+500 || h[2].ack != h[1].seq || h[0].ack != h[1].seq {
					t.Errorf("acknowledgements across a capture start: %+v", h)
				}
			}},
		{"capture starts at the SYN-ACK", [][3]int{{srv, 40, 0x12}, {cli, 40, 0x10}, {cli, 140, 0x18}},
			[]uint8{0x12, 0x10, 0x18}, func(t *testing.T, h []tcpSeen) {
				if h[1].seq != h[0].ack || h[1].ack != h[0].seq+1 {
					t.Errorf("ACK of a SYN-ACK whose SYN was not captured: %+v", h)
				}
			}},
		{"one-way pure ACKs move on", [][3]int{{cli, 40, 0x10}, {cli, 40, 0x10}, {cli, 540, 0x18}, {cli, 40, 0x10}},
			[]uint8{0x10, 0x10, 0x18, 0x10}, func(t *testing.T, h []tcpSeen) {
				if h[1].ack != h[0].ack+mss || h[2].ack != h[1].ack || h[3].ack != h[2].ack+mss || h[3].seq != h[0].seq+500 {
					t.Errorf("acks of an unseen peer: %+v", h)
				}
			}},
		{"a SYN-ACK repeated after its ACK is data, not a retransmission", [][3]int{{cli, 40, 0x02}, {srv, 40, 0x12}, {cli, 40, 0x10}, {srv, 93, 0x12}, {srv, 40, 0x11}},
			[]uint8{0x02, 0x12, 0x10, 0x10, 0x11}, func(t *testing.T, h []tcpSeen) {
				if h[3].seq != h[1].seq+1 || h[4].seq != h[3].seq+53 {
					t.Errorf("data after an acknowledged SYN-ACK: %+v", h)
				}
			}},
		{"a SYN-ACK from the side that sent the SYN is not its retransmission", [][3]int{{cli, 40, 0x02}, {cli, 47, 0x12}, {srv, 40, 0x12}, {cli, 40, 0x10}},
			[]uint8{0x02, 0x10, 0x12, 0x10}, func(t *testing.T, h []tcpSeen) {
				if h[1].seq != h[0].seq+1 || h[2].seq+1 != h[1].ack || h[3].seq != h[1].seq+7 {
					t.Errorf("a client's SYN-ACK after its SYN: %+v", h)
				}
			}},
		{"SYN inside a connection cleared", [][3]int{{cli, 40, 0x02}, {srv, 40, 0x12}, {cli, 40, 0x10}, {cli, 140, 0x02}},
			[]uint8{0x02, 0x12, 0x10, 0x10}, nil},
		{"new connection after a reset", [][3]int{{cli, 40, 0x02}, {srv, 40, 0x14}, {cli, 40, 0x02}, {srv, 40, 0x12}},
			[]uint8{0x02, 0x14, 0x02, 0x12}, func(t *testing.T, h []tcpSeen) {
				if h[2].seq == h[0].seq || h[3].ack != h[2].seq+1 {
					t.Errorf("a new connection needs a new ISN: %+v", h)
				}
			}},
		{"no options without room", [][3]int{{cli, 40, 0x02}, {srv, 40, 0x12}, {cli, 40, 0x10}, {srv, 1500, 0x10}},
			[]uint8{0x02, 0x12, 0x10, 0x10}, func(t *testing.T, h []tcpSeen) {
				for i, x := range h {
					if x.hlen != 20 || x.win != winNoScale && i > 1 {
						t.Errorf("packet %d: header %d, window %d", i+1, x.hlen, x.win)
					}
				}
				if h[3].data != 1460 {
					t.Errorf("payload %d", h[3].data)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, _ := encodeAll(t, sessionOpt(), toBatch(conversation(tc.steps...)), 2)
			h := tcpHeaders(t, file)
			for i, w := range tc.flags {
				if h[i].flags != w {
					t.Errorf("packet %d: flags %#x, want %#x", i+1, h[i].flags, w)
				}
			}
			if tc.check != nil {
				tc.check(t, h)
			}
		})
	}
}

// TestSessionTools: tshark's TCP analysis finds nothing wrong with a
// written session and tcptrace calls it complete; written as-is, the same
// records are flagged.
func TestSessionTools(t *testing.T) {
	rs := conversation(
		[3]int{cli, 60, 0x02}, [3]int{srv, 60, 0x10}, [3]int{cli, 52, 0x10}, [3]int{cli, 352, 0x18},
		[3]int{srv, 1500, 0x10}, [3]int{srv, 900, 0x18}, [3]int{cli, 52, 0x10}, [3]int{cli, 52, 0x11},
		[3]int{srv, 52, 0x11}, [3]int{cli, 52, 0x10},
	)
	dir := t.TempDir()
	write := func(name string, opt Options) string {
		opt.ZeroPayload = true
		file, _ := encodeAll(t, opt, toBatch(rs), 100)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, file, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sess := write("session.pcap", sessionOpt())
	asis := write("asis.pcap", Options{Link: LinkRaw, Snaplen: DefaultSnaplen})
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed (apt-get install tshark): skipping its TCP analysis")
	} else {
		out, err := exec.Command("tshark", "-r", sess, "-Y", "tcp.analysis.flags", "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message").Output()
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("tshark flags the session:\n%s", s)
		}
	}
	if _, err := exec.LookPath("tcptrace"); err != nil {
		t.Skip("tcptrace not installed (apt-get install tcptrace): skipping its connection verdicts")
	}
	verdict := func(p string) string {
		out, err := exec.Command("tcptrace", "-l", p).CombinedOutput()
		if err != nil {
			t.Fatalf("tcptrace: %v\n%s", err, out)
		}
		return string(out)
	}
	if v := verdict(sess); !strings.Contains(v, "complete conn: yes") {
		t.Errorf("tcptrace does not call the session complete:\n%s", v)
	}
	if v := verdict(asis); strings.Contains(v, "complete conn: yes") {
		t.Errorf("as-is records (no SYN-ACK) should not make a complete connection:\n%s", v)
	}
}

// TestSessionRealFiles: real captures written as sessions read back as
// the same records except for counted flag fix-ups, and real traffic
// needs almost none (a stack made it).
func TestSessionRealFiles(t *testing.T) {
	for name, data := range realFiles(t) {
		t.Run(name, func(t *testing.T) {
			orig, _, err := decodeAll(t, data, 0)
			if err != nil {
				t.Fatal(err)
			}
			out, e := encodeAll(t, sessionOpt(), toBatch(orig), 4096)
			back, _, err := decodeAll(t, out, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(orig) {
				t.Fatalf("%d records back, %d written", len(back), len(orig))
			}
			changed := 0
			for i := range orig {
				o, b := orig[i], back[i]
				if o.TCPFlags != b.TCPFlags {
					changed++
				}
				o.TCPFlags, b.TCPFlags = 0, 0
				if o != b {
					t.Fatalf("record %d:\n got %+v\nwant %+v", i, back[i], orig[i])
				}
			}
			var fixed int64
			for k, n := range e.Fixes() {
				if k != FixDataAfterFin {
					fixed += n
				}
			}
			if int64(changed) != fixed {
				t.Errorf("%d records changed flags, fix-ups count %d (%v)", changed, fixed, e.Fixes())
			}
			t.Logf("%d records, flags fixed in %d: %v", len(orig), changed, e.Fixes())
			if changed*100 > len(orig) {
				t.Errorf("real traffic needed flag fixes in %d of %d records", changed, len(orig))
			}
		})
	}
}
