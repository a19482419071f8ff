package pcap

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tsharkRecords are the records the tshark tests write: the start of every
// real capture plus hand-made ones covering what real files lack.
func tsharkRecords(t *testing.T) []rec {
	var rs []rec
	for _, data := range realFiles(t) {
		got, _, err := decodeAll(t, data, 0)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, got[:min(len(got), 1500)]...)
	}
	ts := int64(1_700_000_000_000_000)
	add := func(r rec) {
		ts += 1000
		r.TS, r.Src, r.Dst = ts, 0x0a000001, 0xc0a80001
		if r.TTL == 0 {
			r.TTL = 64
		}
		rs = append(rs, r)
	}
	// A TCP conversation: handshake, data both ways, FIN.
	for _, r := range []rec{
		{Sport: 40000, Dport: 8443, Proto: 6, Len: 60, TCPFlags: 0x02},
		{Sport: 40000, Dport: 8443, Proto: 6, Len: 40, TCPFlags: 0x10},
		{Sport: 40000, Dport: 8443, Proto: 6, Len: 1500, TCPFlags: 0x18, Flag: 2},
		{Sport: 40000, Dport: 8443, Proto: 6, Len: 576, TCPFlags: 0x18, Flag: 2},
		{Sport: 40000, Dport: 8443, Proto: 6, Len: 40, TCPFlags: 0x11},
	} {
		add(r)
	}
	for typ := range 20 {
		add(rec{Proto: 1, Sport: uint16(typ), Len: 120})
	}
	for _, p := range []uint8{47, 50, 51, 2, 89, 103, 132, 253} {
		add(rec{Proto: p, Len: 100, TOS: 0x20})
	}
	// Fixed-up records, fragments and the evil bit.
	add(rec{Proto: 6, Sport: 1, Dport: 2, Len: 1})
	add(rec{Proto: 17, Sport: 1, Dport: 2, Len: 9})
	add(rec{Proto: 1, Sport: 3, Dport: 1, Len: 30})
	add(rec{Proto: 17, Sport: 7000, Dport: 7001, Len: 1500, Flag: 1, ID: 5})
	add(rec{Proto: 17, Len: 500, Off: 185, ID: 5})
	add(rec{Proto: 6, Sport: 7000, Dport: 7001, Len: 40, Flag: 4, TCPFlags: 0xff})
	return rs
}

var tsharkAll = flag.Bool("tshark.all", false, "TestTshark: check every output variant, not just three")

var (
	tsharkOnce    sync.Once
	tsharkDisable []string // --disable-protocol for every dissector above the transport
)

// tsharkArgs returns the arguments that make tshark verify every checksum
// we write. With restrict, every dissector above TCP/UDP/ICMP is off:
// payload is not modelled, so with payload=zeros application dissectors
// would judge zero bytes we never claimed were their protocol.
func tsharkArgs(t *testing.T, restrict bool) []string {
	args := []string{"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"}
	if !restrict {
		return args
	}
	tsharkOnce.Do(func() {
		out, err := exec.Command("tshark", "-G", "protocols").Output()
		if err != nil {
			t.Fatalf("tshark -G protocols: %v", err)
		}
		keep := map[string]bool{"frame": true, "eth": true, "raw": true, "ip": true, "tcp": true, "udp": true, "icmp": true, "sll": true, "null": true, "data": true}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 3 || keep[f[2]] || strings.HasPrefix(f[2], "_ws.") {
				continue
			}
			tsharkDisable = append(tsharkDisable, "--disable-protocol", f[2])
		}
	})
	return append(args, tsharkDisable...)
}

// tsharkProblems runs tshark on file and returns one line per malformed
// packet or expert message of warning severity or above. "Connection
// reset (RST)" is left out: it is a warning about the traffic itself
// (RST is a tcp_flags value real traces hold), not about our encoding.
func tsharkProblems(t *testing.T, file []byte, restrict bool) (problems []string, packets int, checks map[string]int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.pcap")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-r", path}, tsharkArgs(t, restrict)...)
	args = append(args, "-T", "fields", "-E", "separator=/t", "-e", "frame.number", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.expert.message",
		"-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-e", "icmp.checksum.status")
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	checks = map[string]int{}
	names := []string{"ip", "tcp", "udp", "icmp"}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 8 {
			continue
		}
		packets++
		if f[1] != "" {
			problems = append(problems, "frame "+f[0]+": malformed")
		}
		sev, msg := strings.Split(f[2], ","), strings.Split(f[3], ",")
		for i := range sev {
			// Severity values: chat 0x200000, note 0x400000, warning 0x600000, error 0x800000.
			if n, err := strconv.Atoi(sev[i]); err != nil || n < 0x600000 {
				continue
			}
			m := ""
			if i < len(msg) {
				m = msg[i]
			}
			if m == "Connection reset (RST)" {
				continue
			}
			problems = append(problems, "frame "+f[0]+": "+m)
		}
		// Checksum status: 0 bad, 1 good, 2 unverified. Quoted ICMP
		// errors repeat ip fields, so each may hold several values.
		for i, n := range names {
			for _, s := range strings.Split(f[4+i], ",") {
				switch s {
				case "0":
					checks[n+" bad"]++
				case "1":
					checks[n+" good"]++
				}
			}
		}
	}
	if len(problems) > 10 {
		problems = append(problems[:10], "…")
	}
	return problems, packets, checks
}

// TestTshark: tshark reads every output variant with no malformed packet,
// no checksum error and no warning about our encoding; with whole packets
// it verifies every checksum; and it does catch a deliberately broken one.
func TestTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark): skipping the check of our output against Wireshark's dissectors")
	}
	if testing.Short() {
		t.Skip("runs tshark several times")
	}
	rs := tsharkRecords(t)
	variants := []struct {
		name     string
		opt      Options
		restrict bool
	}{
		// The default output, read by tshark with all its dissectors.
		{"default raw, headers only", Options{Link: LinkRaw, Snaplen: DefaultSnaplen, Sessions: true}, false},
		{"raw, headers only, TCP as-is", Options{Link: LinkRaw, Snaplen: DefaultSnaplen}, false},
		{"ethernet whole packets", Options{Link: LinkEthernet, Snaplen: DefaultSnaplen, ZeroPayload: true, Sessions: true}, true},
		{"sll2 pcapng ns whole packets", Options{Link: LinkSLL2, Snaplen: DefaultSnaplen, ZeroPayload: true, PCAPNG: true, Nano: true}, true},
	}
	if *tsharkAll {
		variants = append(variants, []struct {
			name     string
			opt      Options
			restrict bool
		}{
			{"ethernet pcapng, headers only", Options{Link: LinkEthernet, Snaplen: DefaultSnaplen, PCAPNG: true}, false},
			{"raw whole packets", Options{Link: LinkRaw, Snaplen: DefaultSnaplen, ZeroPayload: true}, true},
			{"null whole packets", Options{Link: LinkNull, Snaplen: DefaultSnaplen, ZeroPayload: true}, true},
			{"loop snaplen 96", Options{Link: LinkLoop, Snaplen: 96, ZeroPayload: true}, true},
			{"sll whole packets", Options{Link: LinkSLL, Snaplen: DefaultSnaplen, ZeroPayload: true}, true},
			{"ipv4 ns", Options{Link: LinkIPv4, Snaplen: DefaultSnaplen, Nano: true}, false},
		}...)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			file, _ := encodeAll(t, v.opt, toBatch(rs), 8192)
			problems, n, checks := tsharkProblems(t, file, v.restrict)
			if n != len(rs) {
				t.Errorf("tshark read %d packets, we wrote %d", n, len(rs))
			}
			if len(problems) > 0 {
				t.Errorf("tshark reports problems:\n%s", strings.Join(problems, "\n"))
			}
			for k, c := range checks {
				if strings.HasSuffix(k, "bad") {
					t.Errorf("%d packets with %s checksum", c, k)
				}
			}
			// Every IP header checksum is verified; with whole packets,
			// so is every unfragmented TCP and UDP one.
			if checks["ip good"] < len(rs) {
				t.Errorf("only %d of %d IP checksums verified good", checks["ip good"], len(rs))
			}
			if v.opt.ZeroPayload && v.opt.Snaplen == DefaultSnaplen {
				var tcp, udp int
				for _, r := range rs {
					if r.Off == 0 && r.Flag&1 == 0 {
						switch r.Proto {
						case 6:
							tcp++
						case 17:
							udp++
						}
					}
				}
				if checks["tcp good"] != tcp || checks["udp good"] < udp {
					t.Errorf("verified good: %d TCP of %d, %d UDP of %d (%v)", checks["tcp good"], tcp, checks["udp good"], udp, checks)
				}
			}
		})
	}

	// The check above must be able to fail: break one checksum of each
	// kind, one per packet, and tshark must flag each of those packets.
	one := []rec{
		{TS: 1, Src: 1, Dst: 2, Sport: 1000, Dport: 2000, Proto: 6, Len: 100, TTL: 9, TCPFlags: 0x10},
		{TS: 2, Src: 1, Dst: 2, Sport: 1000, Dport: 2000, Proto: 6, Len: 100, TTL: 9, TCPFlags: 0x10},
		{TS: 3, Src: 1, Dst: 2, Sport: 1000, Dport: 2000, Proto: 17, Len: 100, TTL: 9},
		{TS: 4, Src: 1, Dst: 2, Sport: 8, Proto: 1, Len: 100, TTL: 9},
	}
	good, _ := encodeAll(t, Options{Link: LinkRaw, Snaplen: DefaultSnaplen, ZeroPayload: true}, toBatch(one), 10)
	if p, _, _ := tsharkProblems(t, good, true); len(p) > 0 {
		t.Fatalf("unbroken file has problems: %v", p)
	}
	// 24-byte file header, then 16-byte record headers and 100-byte
	// packets: the IP checksum of packet 1, TCP of 2, UDP of 3, ICMP of 4.
	bad := append([]byte(nil), good...)
	for i, at := range []int{10, 20 + 16, 20 + 6, 20 + 2} {
		at += 24 + i*116 + 16
		binary.BigEndian.PutUint16(bad[at:], binary.BigEndian.Uint16(bad[at:])^0x0101)
	}
	p, _, checks := tsharkProblems(t, bad, true)
	flagged := map[string]bool{}
	for _, line := range p {
		flagged[strings.SplitN(line, ":", 2)[0]] = true
	}
	if len(flagged) != 4 || checks["ip bad"] != 1 || checks["tcp bad"] != 1 || checks["udp bad"] != 1 || checks["icmp bad"] != 1 {
		t.Errorf("broken checksums in 4 packets: tshark flags %v, checks %v", p, checks)
	}
}
