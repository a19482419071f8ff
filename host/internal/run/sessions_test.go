package run

import (
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

// pkt is one TCP record of a test conversation: from the client (or
// back), its time offset in µs, flags and length.
type pkt struct {
	back  bool
	dt    int64
	flags uint8
	len   uint16
}

// complete is a whole connection: handshake, request, answer, teardown.
var complete = []pkt{{false, 0, 0x02, 60}, {true, 1000, 0x12, 60}, {false, 1100, 0x10, 52}, {false, 1200, 0x18, 400},
	{true, 3000, 0x10, 1500}, {false, 5000, 0x11, 52}, {true, 6000, 0x11, 52}}

// tcpBatch lays out conversations, the i-th between 10.0.0.i:40000+i and
// 192.168.0.1:443, starting 1 s apart.
func tcpBatch(convs ...[]pkt) *abi.Batch {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime}, {Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16}, {Name: "proto", Type: abi.TypeU8},
		{Name: "pkt_len", Type: abi.TypeU16}, {Name: "tcp_flags", Type: abi.TypeU8}, {Name: "ttl", Type: abi.TypeU8},
	}}
	c := func(n string) *abi.Column { return b.Column(n) }
	for i, cv := range convs {
		cli, srv, port := uint32(0x0a000000+i+1), uint32(0xc0a80001), uint16(40000+i)
		for _, p := range cv {
			src, dst, sp, dp, ttl := cli, srv, port, uint16(443), uint8(64)
			if p.back {
				src, dst, sp, dp, ttl = srv, cli, 443, port, 50
			}
			c("ts").I64 = append(c("ts").I64, int64(i)*1_000_000+p.dt)
			c("srcip").U32, c("dstip").U32 = append(c("srcip").U32, src), append(c("dstip").U32, dst)
			c("srcport").U16, c("dstport").U16 = append(c("srcport").U16, sp), append(c("dstport").U16, dp)
			c("proto").U8 = append(c("proto").U8, 6)
			c("pkt_len").U16 = append(c("pkt_len").U16, p.len)
			c("tcp_flags").U8 = append(c("tcp_flags").U8, p.flags)
			c("ttl").U8 = append(c("ttl").U8, ttl)
		}
	}
	return b
}

// shapeOf is a trace's conversations as (mid-stream starts, ending class
// counts) and each conversation's flags in time order, client's positive.
func shapeOf(t *testing.T, b *abi.Batch) (mid int, ends [3]int, flags [][]int) {
	t.Helper()
	c, ok := tcpColumns(b)
	if !ok {
		t.Fatal("no TCP columns")
	}
	for _, cv := range tcpConversations(b, c) {
		if cv.midStart(c) {
			mid++
		}
		ends[cv.ending(c)]++
		var fs []int
		for i := range cv.rows {
			f := int(cv.flags(c, i))
			if cv.side[i] == 1 {
				f = -f
			}
			fs = append(fs, f)
		}
		flags = append(flags, fs)
	}
	return mid, ends, flags
}

func TestCompleteSessions(t *testing.T) {
	midStart := []pkt{{false, 0, 0x10, 52}, {false, 100, 0x18, 400}, {true, 2000, 0x10, 1500}, {false, 5000, 0x11, 52}, {true, 6000, 0x11, 52}}
	synAckFirst := []pkt{{true, 0, 0x12, 60}, {false, 100, 0x10, 52}, {false, 5000, 0x11, 52}, {true, 6000, 0x11, 52}}
	halfClosed := []pkt{{false, 0, 0x02, 60}, {true, 1000, 0x12, 60}, {false, 1100, 0x10, 52}, {true, 3000, 0x10, 1500}, {false, 5000, 0x11, 52}}
	open := []pkt{{false, 0, 0x02, 60}, {true, 1000, 0x12, 60}, {false, 1100, 0x10, 52}, {true, 3000, 0x10, 1500}}
	reset := []pkt{{false, 0, 0x02, 60}, {true, 1000, 0x14, 40}}
	synOnly := []pkt{{false, 0, 0x02, 60}}
	rep := func(cv []pkt, n int) [][]pkt { return slices.Repeat([][]pkt{cv}, n) }
	for _, tc := range []struct {
		name          string
		real, syn     [][]pkt
		mid           int
		ends          [3]int // closed, half, open
		hands, downs  int
		dropped       int
		unchangedRows bool
	}{
		{"complete real: every conversation completed", rep(complete, 4),
			[][]pkt{midStart, synAckFirst, halfClosed, open, complete, synOnly}, 0, [3]int{5, 0, 0}, 2, 2, 1, false},
		{"half the real conversations start mid-stream: half the generated ones stay so",
			append(rep(complete, 2), rep(midStart, 2)...), rep(midStart, 4), 2, [3]int{4, 0, 0}, 2, 0, 0, false},
		{"real half-open at a rate: kept at that rate",
			append(rep(complete, 3), open), rep(open, 4), 0, [3]int{3, 0, 1}, 0, 3, 0, false},
		{"a quarter of the real conversations one-way: as many generated ones kept",
			append(rep(complete, 3), synOnly), append(rep(synOnly, 4), rep(complete, 4)...), 0, [3]int{4, 0, 2}, 0, 0, 2, false},
		{"refusals are closed", rep(reset, 3), rep(reset, 2), 0, [3]int{2, 0, 0}, 0, 0, 0, true},
		{"a one-way real trace (a SYN flood) changes nothing", rep(synOnly, 5), [][]pkt{open, midStart, synOnly}, 1, [3]int{1, 0, 2}, 0, 0, 0, true},
		{"generated as real: nothing added", rep(complete, 3), rep(complete, 3), 0, [3]int{3, 0, 0}, 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			syn := tcpBatch(tc.syn...)
			out, fx, err := completeSessions(tcpBatch(tc.real...), syn, 1)
			if err != nil {
				t.Fatal(err)
			}
			if fx.Handshakes != tc.hands || fx.Teardowns != tc.downs || fx.Dropped != tc.dropped {
				t.Errorf("added %d handshakes and %d teardowns, dropped %d; want %d, %d, %d", fx.Handshakes, fx.Teardowns, fx.Dropped, tc.hands, tc.downs, tc.dropped)
			}
			mid, ends, flags := shapeOf(t, out)
			if mid != tc.mid || ends != tc.ends {
				t.Errorf("%d mid-stream starts, ends (closed, half, open) %v; want %d, %v\n%v", mid, ends, tc.mid, tc.ends, flags)
			}
			if tc.unchangedRows && out.Len() != syn.Len() {
				t.Errorf("%d rows, want the %d generated", out.Len(), syn.Len())
			}
			if ts := out.Column("ts").I64; !slices.IsSorted(ts) {
				t.Errorf("rows out of time order: %v", ts)
			}
		})
	}
}

// TestCompleteSessionsRows: what an added row holds: the sender's other
// header fields, a real row's flags and length, and a real gap.
func TestCompleteSessionsRows(t *testing.T) {
	real := tcpBatch(complete, complete)
	out, _, err := completeSessions(real, tcpBatch(
		[]pkt{{false, 500_000, 0x18, 400}, {true, 502_000, 0x10, 1500}, {false, 505_000, 0x11, 52}, {true, 506_000, 0x11, 52}},
		[]pkt{{true, 0, 0x12, 60}, {false, 100, 0x10, 52}, {false, 5000, 0x11, 52}},
	), 7)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tcpColumns(out)
	ttl := out.Column("ttl")
	convs := tcpConversations(out, c)
	type row struct {
		dt         int64
		flags, ttl uint8
		len        int64
		back       bool
	}
	var got [][]row
	for _, cv := range convs {
		var rs []row
		for i, r := range cv.rows {
			rs = append(rs, row{c.ts.Int(int(r)) - c.ts.Int(int(cv.rows[0])), cv.flags(c, i), ttl.U8[r], c.pktLen.Int(int(r)), cv.side[i] == 1})
		}
		got = append(got, rs)
	}
	want := [][]row{
		// Handshake before the request: SYN 1000 µs before the SYN-ACK,
		// which is 100 µs before the first generated row (the real gaps).
		{{0, 0x02, 64, 60, false}, {1000, 0x12, 50, 60, true}, {1100, 0x18, 64, 400, false}, {3100, 0x10, 50, 1500, true},
			{6100, 0x11, 64, 52, false}, {7100, 0x11, 50, 52, true}},
		// A SYN-ACK first: only the SYN it answers, from its receiver;
		// the server's FIN 1000 µs after the client's (the real gap).
		{{0, 0x02, 64, 60, false}, {1000, 0x12, 50, 60, true}, {1100, 0x10, 64, 52, false}, {6000, 0x11, 64, 52, false},
			{7000, 0x11, 50, 52, true}},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("conversations\n got %v\nwant %v", got, want)
	}
}

// TestCompleteSessionsSynAck: the responder's first row after an opening
// SYN is written as the SYN-ACK (the pcap writer makes it one), so its FIN
// does not count and the responder's teardown is added; after the
// opener's FIN, or as a RST, the row stays as generated.
func TestCompleteSessionsSynAck(t *testing.T) {
	answeredWithFIN := []pkt{{false, 0, 0x02, 60}, {true, 1000, 0x11, 60}, {false, 1100, 0x11, 52}}
	finFirst := []pkt{{false, 0, 0x02, 60}, {false, 500, 0x11, 52}, {true, 1000, 0x11, 52}}
	refused := []pkt{{false, 0, 0x02, 60}, {true, 1000, 0x14, 40}}
	ece := []pkt{{false, 0, 0x02, 60}, {true, 1000, 0x50, 60}, {false, 5000, 0x11, 52}, {true, 6000, 0x11, 52}}
	syn := tcpBatch(answeredWithFIN, finFirst, refused, ece)
	before := slices.Clone(syn.Column("tcp_flags").U8)
	out, fx, err := completeSessions(tcpBatch(complete, complete), syn, 1)
	if err != nil {
		t.Fatal(err)
	}
	if fx.SynAcks != 2 || fx.Teardowns != 1 {
		t.Errorf("%d SYN-ACKs, %d teardowns; want 2 and 1", fx.SynAcks, fx.Teardowns)
	}
	if !slices.Equal(syn.Column("tcp_flags").U8, before) {
		t.Error("the generated records were changed in place")
	}
	_, _, flags := shapeOf(t, out)
	want := [][]int{{0x02, -0x12, 0x11, -0x11}, {0x02, 0x11, -0x11}, {0x02, -0x14}, {0x02, -0x52, 0x11, -0x11}}
	if !slices.EqualFunc(flags, want, slices.Equal) {
		t.Errorf("flags\n got %#x\nwant %#x", flags, want)
	}
}
