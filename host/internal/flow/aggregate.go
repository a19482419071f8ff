package flow

import (
	"fmt"

	"github.com/netshare/netshare/abi"
)

// AggregateOptions configure Aggregate.
type AggregateOptions struct {
	// IdleTimeout ends a flow when its next packet comes more than this
	// many µs after its previous one (NetFlow's inactive timeout). 0 means
	// DefaultIdleTimeout; negative means never.
	IdleTimeout int64
	// ActiveTimeout ends a flow that has lasted longer than this many µs
	// (NetFlow's active timeout); 0 means never.
	ActiveTimeout int64
}

// DefaultIdleTimeout is 120 s, the inactive timeout NetFlow exporters use
// by default.
const DefaultIdleTimeout = 120_000_000

// Aggregate turns packet records (ts, srcip, dstip, srcport, dstport, proto,
// pkt_len) into flow records keyed by the 5-tuple: ts = first packet, td =
// last − first in seconds, pkt = packets, byt = sum of pkt_len (IP total
// length, as NetFlow counts). A flow ends when the idle or active timeout
// passes; the next packet of the same 5-tuple starts a new flow record.
// The result is sorted by flow start (ties in order of first packet) and
// has the flow columns srcip, dstip, srcport, dstport, proto, ts, td, pkt,
// byt. Records need not be in time order.
func Aggregate(b *abi.Batch, opt AggregateOptions) (*abi.Batch, error) {
	if opt.IdleTimeout == 0 {
		opt.IdleTimeout = DefaultIdleTimeout
	}
	need := map[string]abi.Type{
		"srcip": abi.TypeIPv4, "dstip": abi.TypeIPv4, "srcport": abi.TypeU16, "dstport": abi.TypeU16,
		"proto": abi.TypeU8, "ts": abi.TypeTime, "pkt_len": abi.TypeU16,
	}
	for name, t := range need {
		c := b.Column(name)
		if c == nil {
			return nil, fmt.Errorf("aggregate packets into flows: records have no column %q", name)
		}
		if c.Type != t {
			return nil, fmt.Errorf("aggregate packets into flows: column %q is %s, want %s", name, c.Type, t)
		}
	}
	src, dst := b.Column("srcip").U32, b.Column("dstip").U32
	sp, dp := b.Column("srcport").U16, b.Column("dstport").U16
	proto, ts, plen := b.Column("proto").U8, b.Column("ts").I64, b.Column("pkt_len").U16

	order := timeOrder(ts)
	n := len(ts)
	type open struct {
		rec   int32 // index in the output
		first int64
		last  int64
	}
	active := make(map[[2]uint64]open)
	var (
		oSrc, oDst     []uint32
		oSP, oDP       []uint16
		oProto         []uint8
		oTS, oPkt, oBy []int64
		oLast          []int64
	)
	for i := 0; i < n; i++ {
		r := i
		if order != nil {
			r = int(order[i])
		}
		key := [2]uint64{uint64(src[r])<<32 | uint64(dst[r]), uint64(sp[r])<<24 | uint64(dp[r])<<8 | uint64(proto[r])}
		t := ts[r]
		f, ok := active[key]
		if ok && (opt.IdleTimeout > 0 && t-f.last > opt.IdleTimeout || opt.ActiveTimeout > 0 && t-f.first > opt.ActiveTimeout) {
			ok = false
		}
		if !ok {
			f = open{rec: int32(len(oTS)), first: t}
			oSrc, oDst = append(oSrc, src[r]), append(oDst, dst[r])
			oSP, oDP, oProto = append(oSP, sp[r]), append(oDP, dp[r]), append(oProto, proto[r])
			oTS, oPkt, oBy, oLast = append(oTS, t), append(oPkt, 0), append(oBy, 0), append(oLast, t)
		}
		f.last = t
		oPkt[f.rec]++
		oBy[f.rec] += int64(plen[r])
		oLast[f.rec] = t
		active[key] = f
	}
	td := make([]float64, len(oTS))
	for i := range td {
		td[i] = float64(oLast[i]-oTS[i]) / 1e6
	}
	// Records were opened in time order, so they are already sorted by
	// flow start with ties in first-packet order.
	return &abi.Batch{Columns: []abi.Column{
		{Name: "srcip", Type: abi.TypeIPv4, U32: oSrc},
		{Name: "dstip", Type: abi.TypeIPv4, U32: oDst},
		{Name: "srcport", Type: abi.TypeU16, U16: oSP},
		{Name: "dstport", Type: abi.TypeU16, U16: oDP},
		{Name: "proto", Type: abi.TypeU8, U8: oProto},
		{Name: "ts", Type: abi.TypeTime, I64: oTS},
		{Name: "td", Type: abi.TypeF64, F64: td},
		{Name: "pkt", Type: abi.TypeI64, I64: oPkt},
		{Name: "byt", Type: abi.TypeI64, I64: oBy},
	}}, nil
}
