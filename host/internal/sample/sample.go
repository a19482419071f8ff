// Package sample generates the small trace the embedded default pipeline
// trains on: seeded, plausible packet traffic between a client subnet and
// servers (TCP web sessions, DNS, NTP, ping), so `netshare run` works on a
// fresh clone without shipping anyone's real capture.
package sample

import (
	"math/rand/v2"
	"sort"

	"github.com/netshare/netshare/abi"
)

// Options size the trace.
type Options struct {
	Seed     uint64
	Flows    int   // number of flows
	Start    int64 // µs since the epoch of the first flow
	SpanUsec int64 // flow start times spread over this span
}

// DefaultOptions make a trace of a few thousand packets over one minute.
func DefaultOptions() Options {
	return Options{Seed: 1, Flows: 400, Start: 1_700_000_000_000_000, SpanUsec: 60_000_000}
}

type packet struct {
	ts                              int64
	src, dst                        uint32
	sport, dport                    uint16
	proto, tos, flag, ttl, tcpFlags uint8
	length, id                      uint16
}

// Packets returns the trace as packet records (the pcap format's columns),
// sorted by time.
func Packets(o Options) *abi.Batch {
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	clients := make([]uint32, 40)
	for i := range clients {
		clients[i] = ip(10, 1, 0, byte(10+i))
	}
	servers := make([]uint32, 25)
	for i := range servers {
		servers[i] = ip(byte(93+r.IntN(100)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1+r.IntN(254)))
	}
	resolver := ip(10, 1, 0, 2)
	ipID := map[uint32]uint16{}
	nextID := func(h uint32) uint16 { ipID[h] += uint16(1 + r.IntN(3)); return ipID[h] }
	// Hosts keep their initial TTL; distance varies by server.
	hops := func(h uint32) uint8 { return uint8(h%17) + 3 }
	var pkts []packet
	emit := func(ts int64, src, dst uint32, sport, dport uint16, proto uint8, length uint16, tcpFlags uint8, initTTL uint8, local bool) {
		ttl := initTTL
		if !local {
			ttl -= hops(src ^ dst)
		}
		flag := uint8(0)
		if proto == 6 {
			flag = 2 // DF on TCP
		}
		pkts = append(pkts, packet{ts: ts, src: src, dst: dst, sport: sport, dport: dport, proto: proto,
			ttl: ttl, flag: flag, tcpFlags: tcpFlags, length: length, id: nextID(src)})
	}
	for f := 0; f < o.Flows; f++ {
		start := o.Start + int64(r.Float64()*float64(o.SpanUsec))
		c := clients[zipf(r, len(clients))]
		s := servers[zipf(r, len(servers))]
		eph := uint16(32768 + r.IntN(28000))
		rtt := int64(5000 + r.IntN(60000)) // µs
		t := start
		switch k := r.Float64(); {
		case k < 0.55: // TCP web session: handshake, request, response, teardown
			dport := uint16(443)
			if r.Float64() < 0.2 {
				dport = 80
			}
			emit(t, c, s, eph, dport, 6, 60, 0x02, 64, true)
			t += rtt
			emit(t, s, c, dport, eph, 6, 60, 0x12, 64, false)
			t += int64(r.IntN(300))
			emit(t, c, s, eph, dport, 6, 52, 0x10, 64, true)
			emit(t+int64(r.IntN(500)), c, s, eph, dport, 6, uint16(300+r.IntN(400)), 0x18, 64, true)
			t += rtt
			n := 1 + int(r.ExpFloat64()*6)
			for i := 0; i < n && i < 30; i++ {
				t += int64(r.ExpFloat64() * 800)
				size := uint16(1500)
				if i == n-1 {
					size = uint16(100 + r.IntN(1400))
				}
				emit(t, s, c, dport, eph, 6, size, 0x10, 64, false)
				if i%2 == 1 {
					emit(t+int64(r.IntN(200)), c, s, eph, dport, 6, 52, 0x10, 64, true)
				}
			}
			t += rtt
			emit(t, c, s, eph, dport, 6, 52, 0x11, 64, true)
			emit(t+rtt, s, c, dport, eph, 6, 52, 0x11, 64, false)
		case k < 0.85: // DNS query and answer through the local resolver
			emit(t, c, resolver, eph, 53, 17, uint16(60+r.IntN(30)), 0, 64, true)
			emit(t+int64(200+r.IntN(20000)), resolver, c, 53, eph, 17, uint16(90+r.IntN(200)), 0, 64, true)
		case k < 0.93: // NTP
			emit(t, c, s, 123, 123, 17, 76, 0, 64, true)
			emit(t+rtt, s, c, 123, 123, 17, 76, 0, 64, false)
		default: // ping: ICMP echo request/reply (type 8/0 in srcport, code 0)
			n := 1 + r.IntN(4)
			for i := 0; i < n; i++ {
				emit(t, c, s, 8, 0, 1, 84, 0, 128, true)
				emit(t+rtt, s, c, 0, 0, 1, 84, 0, 64, false)
				t += 1_000_000
			}
		}
	}
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].ts < pkts[j].ts })
	return batch(pkts)
}

func batch(pkts []packet) *abi.Batch {
	n := len(pkts)
	cols := []abi.Column{
		{Name: "ts", Type: abi.TypeTime, I64: make([]int64, n)},
		{Name: "srcip", Type: abi.TypeIPv4, U32: make([]uint32, n)},
		{Name: "dstip", Type: abi.TypeIPv4, U32: make([]uint32, n)},
		{Name: "srcport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "dstport", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "proto", Type: abi.TypeU8, U8: make([]uint8, n)},
		{Name: "pkt_len", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "tos", Type: abi.TypeU8, U8: make([]uint8, n)},
		{Name: "id", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "flag", Type: abi.TypeU8, U8: make([]uint8, n)},
		{Name: "off", Type: abi.TypeU16, U16: make([]uint16, n)},
		{Name: "ttl", Type: abi.TypeU8, U8: make([]uint8, n)},
		{Name: "tcp_flags", Type: abi.TypeU8, U8: make([]uint8, n)},
	}
	for i, p := range pkts {
		cols[0].I64[i] = p.ts
		cols[1].U32[i], cols[2].U32[i] = p.src, p.dst
		cols[3].U16[i], cols[4].U16[i] = p.sport, p.dport
		cols[5].U8[i] = p.proto
		cols[6].U16[i] = p.length
		cols[7].U8[i] = p.tos
		cols[8].U16[i] = p.id
		cols[9].U8[i] = p.flag
		cols[11].U8[i] = p.ttl
		cols[12].U8[i] = p.tcpFlags
	}
	return &abi.Batch{Columns: cols}
}

func ip(a, b, c, d byte) uint32 { return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d) }

// zipf picks an index with popularity falling like 1/(i+1), the skew real
// host and server popularity shows.
func zipf(r *rand.Rand, n int) int {
	h := 0.0
	for i := 1; i <= n; i++ {
		h += 1 / float64(i)
	}
	u := r.Float64() * h
	for i := 1; i <= n; i++ {
		u -= 1 / float64(i)
		if u <= 0 {
			return i - 1
		}
	}
	return n - 1
}
