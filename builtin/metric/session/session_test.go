package session

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/pcap"
	mt "github.com/netshare/netshare/builtin/metric/internal/metrictest"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk"
	"github.com/netshare/netshare/sdk/sdktest"
)

// pkt is one record: from the client (true) or the server, and flags.
type pkt struct {
	fromClient bool
	flags      uint8
}

// records lays out conversations one after another; conversation i is
// between 10.0.0.1:(1000+i) and 10.0.0.2:80 (the client the lower
// endpoint when low is set, else the higher one).
func records(low bool, convs ...[]pkt) *abi.Batch {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime}, {Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16}, {Name: "proto", Type: abi.TypeU8},
		{Name: "pkt_len", Type: abi.TypeU16}, {Name: "tcp_flags", Type: abi.TypeU8},
	}}
	c := b.Columns
	ts := int64(1_700_000_000_000_000)
	cli, srv := uint32(0x0a000001), uint32(0x0a000002)
	if !low {
		cli, srv = srv, cli
	}
	for i, cv := range convs {
		for _, p := range cv {
			ts += 1000
			s, d, sp, dp := cli, srv, uint16(1000+i), uint16(80)
			if !p.fromClient {
				s, d, sp, dp = d, s, dp, sp
			}
			c[0].I64 = append(c[0].I64, ts)
			c[1].U32, c[2].U32 = append(c[1].U32, s), append(c[2].U32, d)
			c[3].U16, c[4].U16 = append(c[3].U16, sp), append(c[4].U16, dp)
			c[5].U8, c[6].U16, c[7].U8 = append(c[5].U8, 6), append(c[6].U16, 60), append(c[7].U8, p.flags)
		}
	}
	return b
}

var (
	c, s = true, false
	// One conversation per Zeek state.
	byState = map[string][]pkt{
		"S0":     {{c, 0x02}, {c, 0x02}},
		"S1":     {{c, 0x02}, {s, 0x12}, {c, 0x10}, {c, 0x18}},
		"SF":     {{c, 0x02}, {s, 0x12}, {c, 0x10}, {c, 0x11}, {s, 0x11}, {c, 0x10}},
		"REJ":    {{c, 0x02}, {s, 0x14}},
		"S2":     {{c, 0x02}, {s, 0x12}, {c, 0x11}},
		"S3":     {{c, 0x02}, {s, 0x12}, {c, 0x10}, {s, 0x11}},
		"RSTO":   {{c, 0x02}, {s, 0x12}, {c, 0x10}, {c, 0x04}},
		"RSTR":   {{c, 0x02}, {s, 0x12}, {c, 0x10}, {s, 0x14}},
		"RSTOS0": {{c, 0x02}, {c, 0x04}},
		"RSTRH":  {{s, 0x12}, {s, 0x04}},
		"SH":     {{c, 0x02}, {c, 0x01}},
		"SHR":    {{s, 0x12}, {s, 0x11}},
		"OTH":    {{c, 0x10}, {s, 0x18}},
	}
)

func TestStates(t *testing.T) {
	for _, low := range []bool{true, false} {
		for want, cv := range byState {
			m, err := New(sdk.Env{Params: sdktest.Params(t, abi.KindMetric, "session", nil)})
			if err != nil {
				t.Fatal(err)
			}
			sm := m.(*Metric)
			if err := sm.AddReal(records(low, cv)); err != nil {
				t.Fatal(err)
			}
			if got := sm.real.convs[0].State(); got != want {
				t.Errorf("client lower %v: %v is %s, want %s", low, cv, got, want)
			}
		}
	}
}

func TestScores(t *testing.T) {
	sf, s0, oth := byState["SF"], byState["S0"], byState["OTH"]
	for _, tc := range []struct {
		name            string
		real, syn       *abi.Batch
		hs, state, resp float64
	}{
		{"identical", records(true, sf, s0), records(false, sf, s0), 0, 0, 0},
		// Real: all SF (responder sends 2 of 6 packets); synthetic: all
		// S0 (responder silent): disjoint states.
		{"handshakes vs none", records(true, sf, sf), records(true, s0, s0), 1, math.Ln2, 1.0 / 3},
		// Real all SF; synthetic half SF, half OTH (balanced): JSD of (1, 0)
		// and (½, ½); responder shares {⅓, ⅓} vs {⅓, ½}.
		{"half", records(true, sf, sf), records(true, sf, oth), 0.5, 0.5*math.Log(1/0.75) + 0.5*(0.5*math.Log(0.5/0.75)+0.5*math.Log(2)), 1.0 / 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := mt.Run("session", nil, []*abi.Batch{tc.real}, []*abi.Batch{tc.syn})
			if err != nil {
				t.Fatal(err)
			}
			v := sc.Values
			if math.Abs(v["tcp_handshake_diff"]-tc.hs) > 1e-12 || math.Abs(v["tcp_resp_share_emd"]-tc.resp) > 1e-12 {
				t.Errorf("scores %v, want handshake %g resp %g", v, tc.hs, tc.resp)
			}
			if math.Abs(v["tcp_conn_state_jsd"]-tc.state) > 1e-12 {
				t.Errorf("conn_state JSD %g, want %g", v["tcp_conn_state_jsd"], tc.state)
			}
			if len(sc.Series) != 3 {
				t.Errorf("%d series", len(sc.Series))
			}
		})
	}
	if _, err := mt.Run("session", nil, []*abi.Batch{records(true)}, []*abi.Batch{records(true, sf)}); err == nil {
		t.Error("no real conversations scored")
	}
	if sc, err := mt.Run("session", nil, []*abi.Batch{records(true, sf)}, []*abi.Batch{records(true)}); err != nil || sc.Values["tcp_conn_state_jsd"] != math.Ln2 || sc.Values["tcp_handshake_diff"] != 1 {
		t.Errorf("no synthetic conversation: %v, %v", sc.Values, err)
	}
	if _, err := mt.Run("session", map[string]any{"columns": []string{"srcip"}}, nil, nil); err == nil {
		t.Error("one column accepted")
	}
}

// writePcap writes records with the pcap format's session writer.
func writePcap(t *testing.T, b *abi.Batch, path string) {
	t.Helper()
	e, err := pcap.NewWriter(pcap.Options{Link: pcap.LinkRaw, Snaplen: pcap.DefaultSnaplen, Sessions: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if out, err = e.End(out); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// toolView is what tshark and tcptrace say of a capture's TCP
// conversations.
type toolView struct {
	streams, handshakes int            // tshark tcp.stream: all, with SYN then SYN-ACK
	tcptrace            map[string]int // "complete conn:" verdicts
}

func tools(t *testing.T, path string) toolView {
	t.Helper()
	out, err := exec.Command("tshark", "-r", path, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream", "-e", "tcp.flags").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	type st struct{ syn, synack bool }
	streams := map[string]*st{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		x := streams[f[0]]
		if x == nil {
			x = &st{}
			streams[f[0]] = x
		}
		switch f[1] {
		case "0x0002":
			x.syn = true
		case "0x0012":
			x.synack = x.syn
		}
	}
	v := toolView{streams: len(streams), tcptrace: map[string]int{}}
	for _, x := range streams {
		if x.synack {
			v.handshakes++
		}
	}
	out, err = exec.Command("tcptrace", "-n", "-l", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tcptrace: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if _, verdict, ok := strings.Cut(line, "complete conn: "); ok {
			v.tcptrace[strings.TrimSpace(verdict)]++
		}
	}
	return v
}

// TestAgainstTools checks the metric's reading of conversations against
// tshark's streams and tcptrace's verdicts, on hand-made conversations of
// every state and on the first records of each real capture, written by
// the session writer.
func TestAgainstTools(t *testing.T) {
	for _, tool := range []string{"tshark", "tcptrace"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install tshark tcptrace): skipping the check against it", tool)
		}
	}
	if testing.Short() {
		t.Skip("runs tshark and tcptrace on several captures")
	}
	var convs [][]pkt
	for _, st := range States {
		convs = append(convs, byState[st])
	}
	inputs := map[string]*abi.Batch{"states": records(true, convs...)}
	if data, err := shareddata.Lookup("pcap"); err == nil {
		ents, _ := os.ReadDir(data)
		for _, e := range ents {
			raw, err := os.ReadFile(filepath.Join(data, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			bs, _, err := sdktest.Read(pcap.NewReader(), raw)
			if err != nil {
				t.Fatal(err)
			}
			inputs[e.Name()] = bs[0].Slice(0, min(bs[0].Len(), 5000))
		}
	}
	dir := t.TempDir()
	for name, b := range inputs {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".pcap")
			writePcap(t, b, path)
			m, _ := New(sdk.Env{Params: sdktest.Params(t, abi.KindMetric, "session", nil)})
			sm := m.(*Metric)
			if err := sm.AddReal(b); err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			handshakes := 0
			for i := range sm.real.convs {
				c := &sm.real.convs[i]
				count[c.State()]++
				if c.rst[0] || c.rst[1] {
					count["any RST"]++
				}
				if c.syn[0] && c.synack[1] {
					handshakes++
				}
			}
			v := tools(t, path)
			t.Logf("metric: %d conversations, %d handshakes, %v; tshark %d streams, %d handshakes; tcptrace %v",
				len(sm.real.convs), handshakes, count, v.streams, v.handshakes, v.tcptrace)
			// tshark starts a new stream when a SYN reuses closed ports;
			// the metric keeps one conversation per endpoint pair.
			if d := v.streams - len(sm.real.convs); d < 0 || d > v.streams/50 {
				t.Errorf("%d conversations, tshark sees %d streams", len(sm.real.convs), v.streams)
			}
			if handshakes != v.handshakes {
				t.Errorf("%d handshakes, tshark sees %d", handshakes, v.handshakes)
			}
			// tcptrace calls a connection complete when both sides sent
			// SYN and FIN (Zeek's SF), and reset when it saw a RST.
			var complete, reset int
			for verdict, n := range v.tcptrace {
				switch {
				case verdict == "yes":
					complete += n
				case strings.HasPrefix(verdict, "RESET"):
					reset += n
				}
			}
			if complete != count["SF"] || abs(reset-count["any RST"]) > max(1, reset/50) {
				t.Errorf("SF %d and %d with a RST; tcptrace: %d complete, %d reset", count["SF"], count["any RST"], complete, reset)
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
