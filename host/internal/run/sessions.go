package run

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/encoding"
)

// Session completion (flows.sessions, docs/pcap.md "TCP sessions"): the
// model generates each TCP conversation's packets, directions and flags,
// and in a short training it often opens a conversation mid-stream or
// ends it with one FIN, or none, where the real trace has a handshake
// and a teardown. completeSessions gives generated conversations the
// handshake and teardown the real trace has, only as often as the real
// trace has them: a conversation stays a mid-capture start, half-closed
// or open at the real trace's rate of such conversations. Rates, gaps,
// lengths and flags of the added packets all come from the real records;
// conversations seen from one side only (scans, floods, one-way links)
// are left as they are.

// tcpCols are the columns a TCP conversation is followed by.
type tcpCols struct {
	ts, src, dst, sport, dport, proto, flags, pktLen *abi.Column
}

func tcpColumns(b *abi.Batch) (tcpCols, bool) {
	c := tcpCols{b.Column("ts"), b.Column("srcip"), b.Column("dstip"), b.Column("srcport"),
		b.Column("dstport"), b.Column("proto"), b.Column("tcp_flags"), b.Column("pkt_len")}
	for _, col := range []*abi.Column{c.ts, c.src, c.dst, c.sport, c.dport, c.proto, c.flags, c.pktLen} {
		if col == nil || !col.Type.IsInt() {
			return c, false
		}
	}
	return c, true
}

// tcpConv is one conversation: its rows in time order; side 0 sent the
// first.
type tcpConv struct {
	rows []int32
	side []uint8 // per row: 0 from the first row's sender, 1 back
	n    [2]int  // rows per side
}

// flags of the conversation's i-th row.
func (cv *tcpConv) flags(c tcpCols, i int) uint8 { return uint8(c.flags.Int(int(cv.rows[i]))) }

// firstFIN is the index of side s's first FIN, or -1.
func (cv *tcpConv) firstFIN(c tcpCols, s uint8) int {
	for i := range cv.rows {
		if cv.side[i] == s && cv.flags(c, i)&abi.TCPFIN != 0 {
			return i
		}
	}
	return -1
}

func (cv *tcpConv) hasRST(c tcpCols) bool {
	for i := range cv.rows {
		if cv.flags(c, i)&abi.TCPRST != 0 {
			return true
		}
	}
	return false
}

// midStart: the first row is not a bare SYN.
func (cv *tcpConv) midStart(c tcpCols) bool {
	return cv.flags(c, 0)&(abi.TCPSYN|abi.TCPACK) != abi.TCPSYN
}

// ending classes of a two-way conversation.
const (
	endClosed = iota // both sides sent a FIN, or a RST ended it
	endHalf          // one side sent a FIN
	endOpen          // neither side closed
)

func (cv *tcpConv) ending(c tcpCols) int {
	if cv.hasRST(c) {
		return endClosed
	}
	switch f0, f1 := cv.firstFIN(c, 0) >= 0, cv.firstFIN(c, 1) >= 0; {
	case f0 && f1:
		return endClosed
	case f0 || f1:
		return endHalf
	}
	return endOpen
}

// tcpConversations groups b's TCP rows by their unordered endpoint pair,
// in conversations' order of first row, each in time order.
func tcpConversations(b *abi.Batch, c tcpCols) []tcpConv {
	order := make([]int32, b.Len())
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(x, y int32) int { return cmp.Compare(c.ts.Int(int(x)), c.ts.Int(int(y))) })
	type endpoint = uint64
	at := map[[2]endpoint]int{}
	var convs []tcpConv
	for _, r := range order {
		if c.proto.Int(int(r)) != 6 {
			continue
		}
		src := endpoint(c.src.Int(int(r)))<<16 | endpoint(c.sport.Int(int(r)))
		dst := endpoint(c.dst.Int(int(r)))<<16 | endpoint(c.dport.Int(int(r)))
		key := [2]endpoint{min(src, dst), max(src, dst)}
		i, ok := at[key]
		if !ok {
			i = len(convs)
			at[key] = i
			convs = append(convs, tcpConv{})
		}
		cv := &convs[i]
		s := uint8(0)
		if len(cv.rows) > 0 && (c.src.Int(int(r)) != c.src.Int(int(cv.rows[0])) || c.sport.Int(int(r)) != c.sport.Int(int(cv.rows[0]))) {
			s = 1
		}
		cv.rows, cv.side = append(cv.rows, r), append(cv.side, s)
		cv.n[s]++
	}
	return convs
}

// sessionShape is what completion takes from the real trace: among its
// two-way TCP conversations, how many start mid-stream and how many end
// half-closed or open, and samples of the handshake's and teardown's
// timing and packets.
type sessionShape struct {
	convs, twoWay, midStart int
	ends                    [3]int
	// Of the conversations closed by two FINs, how many the first
	// side closed first.
	closedByFIN, firstSideCloses int
	synGap, synAckGap            []int64 // SYN → SYN-ACK, SYN-ACK → the next row
	fin1Gap, fin2Gap             []int64 // the row before the first FIN → it; before the second → it
	syn, synAck, fin             []int32 // real rows of each kind: lengths and flags to copy
	realFlags, realLen           *abi.Column
}

func realSessionShape(b *abi.Batch, c tcpCols) sessionShape {
	sh := sessionShape{realFlags: c.flags, realLen: c.pktLen}
	ts := func(r int32) int64 { return c.ts.Int(int(r)) }
	for _, cv := range tcpConversations(b, c) {
		for i, r := range cv.rows {
			switch f := cv.flags(c, i); {
			case f&(abi.TCPSYN|abi.TCPACK|abi.TCPRST) == abi.TCPSYN:
				sh.syn = append(sh.syn, r)
			case f&(abi.TCPSYN|abi.TCPACK|abi.TCPRST) == abi.TCPSYN|abi.TCPACK:
				sh.synAck = append(sh.synAck, r)
			case f&(abi.TCPSYN|abi.TCPRST|abi.TCPFIN) == abi.TCPFIN:
				sh.fin = append(sh.fin, r)
			}
		}
		sh.convs++
		if cv.n[1] == 0 {
			continue
		}
		sh.twoWay++
		if cv.midStart(c) {
			sh.midStart++
		} else if i := slices.Index(cv.side, 1); cv.flags(c, i)&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN|abi.TCPACK {
			// The answer to the SYN opening the conversation.
			sh.synGap = append(sh.synGap, ts(cv.rows[i])-ts(cv.rows[0]))
			if i+1 < len(cv.rows) {
				sh.synAckGap = append(sh.synAckGap, ts(cv.rows[i+1])-ts(cv.rows[i]))
			}
		}
		end := cv.ending(c)
		sh.ends[end]++
		f0, f1 := cv.firstFIN(c, 0), cv.firstFIN(c, 1)
		if end == endClosed && f0 >= 0 && f1 >= 0 {
			first, second := min(f0, f1), max(f0, f1)
			sh.closedByFIN++
			if f0 < f1 {
				sh.firstSideCloses++
			}
			if first > 0 {
				sh.fin1Gap = append(sh.fin1Gap, ts(cv.rows[first])-ts(cv.rows[first-1]))
			}
			sh.fin2Gap = append(sh.fin2Gap, ts(cv.rows[second])-ts(cv.rows[second-1]))
		}
	}
	return sh
}

// sessionFixes counts what completion added.
type sessionFixes struct {
	Conversations int // generated two-way TCP conversations
	SynAcks       int // responders' first rows made the SYN-ACK the writer makes of them
	Handshakes    int // mid-stream starts given a handshake
	Teardowns     int // half-closed or open ends given the missing FINs
	Dropped       int // one-way conversations dropped
}

// completeSessions returns syn with the handshakes and teardowns that make
// its two-way TCP conversations start mid-stream, end half-closed and end
// open no more often than real's do, and without the one-way
// conversations beyond real's share of them (the extra rows appended,
// then all in time order), and what it changed. Records without the TCP columns, or
// a real trace without two-way conversations, are returned as they are.
func completeSessions(real, syn *abi.Batch, seed uint64) (*abi.Batch, sessionFixes, error) {
	var fx sessionFixes
	rc, ok1 := tcpColumns(real)
	sc, ok2 := tcpColumns(syn)
	if !ok1 || !ok2 {
		return syn, fx, nil
	}
	sh := realSessionShape(real, rc)
	if sh.twoWay == 0 {
		return syn, fx, nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x5e55))
	var two, one []tcpConv
	for _, cv := range tcpConversations(syn, sc) {
		if cv.n[1] > 0 {
			two = append(two, cv)
		} else {
			one = append(one, cv)
		}
	}
	fx.Conversations = len(two)
	// One-way conversations beyond the real share of them are dropped:
	// the model generated one side of a conversation, and nothing of the
	// other side to derive its packets from.
	drop := map[int32]bool{}
	if keep := int(math.Round(float64(sh.convs-sh.twoWay) / float64(sh.convs) * float64(len(one)+len(two)))); len(one) > keep {
		rng.Shuffle(len(one), func(i, j int) { one[i], one[j] = one[j], one[i] })
		for _, cv := range one[keep:] {
			for _, r := range cv.rows {
				drop[r] = true
			}
		}
		fx.Dropped = len(one) - keep
	}
	// The records get the SYN-ACKs the writer will write (ECE and CWR
	// kept): it would otherwise drop such a row's FIN, and the records,
	// which the session metric scores, would say more than the capture.
	if rows := unansweredSYNs(sc, two); len(rows) > 0 {
		all := make([]int32, syn.Len())
		for i := range all {
			all[i] = int32(i)
		}
		syn = syn.Take(all) // a copy to change
		sc, _ = tcpColumns(syn)
		for _, r := range rows {
			encoding.SetInt(sc.flags, int(r), int64(abi.TCPSYN|abi.TCPACK|uint8(sc.flags.Int(int(r)))&0xc0))
		}
		fx.SynAcks = len(rows)
	}
	// excess picks, of the conversations where is true, those beyond
	// the real trace's share of them, at random.
	excess := func(is func(*tcpConv) bool, realCount int) []int {
		var cands []int
		for i := range two {
			if is(&two[i]) {
				cands = append(cands, i)
			}
		}
		keep := int(math.Round(float64(realCount) / float64(sh.twoWay) * float64(len(two))))
		if len(cands) <= keep {
			return nil
		}
		rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		return cands[:len(cands)-keep]
	}
	add := &rowAdder{c: sc, sh: &sh, rng: rng}
	if len(sh.syn) > 0 && len(sh.synAck) > 0 && len(sh.synGap) > 0 && len(sh.synAckGap) > 0 {
		for _, i := range excess(func(cv *tcpConv) bool { return cv.midStart(sc) }, sh.midStart) {
			add.handshake(&two[i])
			fx.Handshakes++
		}
	}
	if len(sh.fin) > 0 && len(sh.fin1Gap) > 0 && len(sh.fin2Gap) > 0 {
		for _, end := range []int{endHalf, endOpen} {
			for _, i := range excess(func(cv *tcpConv) bool { return cv.ending(sc) == end }, sh.ends[end]) {
				add.teardown(&two[i])
				fx.Teardowns++
			}
		}
	}
	if len(add.from) == 0 && len(drop) == 0 {
		return syn, fx, nil
	}
	extra := syn.Take(add.from)
	ec, _ := tcpColumns(extra)
	for i, v := range add.vals {
		encoding.SetInt(ec.ts, i, v.ts)
		encoding.SetInt(ec.flags, i, int64(v.flags))
		encoding.SetInt(ec.pktLen, i, v.pktLen)
	}
	kept := make([]int32, 0, syn.Len())
	for r := range int32(syn.Len()) {
		if !drop[r] {
			kept = append(kept, r)
		}
	}
	out, err := concatByTime([]*abi.Batch{syn.Take(kept), extra})
	if err != nil {
		return nil, fx, fmt.Errorf("completing TCP sessions: %w", err)
	}
	return out, fx, nil
}

// unansweredSYNs lists the rows the pcap writer will turn into SYN-ACKs
// (docs/pcap.md, TCP sessions): in a conversation opened by a bare SYN,
// the responder's first row, unless a RST or sent after the opener's FIN
// or RST, and not a SYN-ACK already.
func unansweredSYNs(c tcpCols, convs []tcpConv) []int32 {
	var rows []int32
	for _, cv := range convs {
		if cv.flags(c, 0)&(abi.TCPSYN|abi.TCPACK|abi.TCPRST) != abi.TCPSYN {
			continue
		}
		i := slices.Index(cv.side, 1)
		closed := slices.ContainsFunc(cv.rows[:i], func(r int32) bool { return c.flags.Int(int(r))&(abi.TCPFIN|abi.TCPRST) != 0 })
		if f := cv.flags(c, i); !closed && f&abi.TCPRST == 0 && f&0x3f != abi.TCPSYN|abi.TCPACK {
			rows = append(rows, cv.rows[i])
		}
	}
	return rows
}

// rowAdder collects the rows completion adds: each a copy of a row of the
// same sender in the same conversation (addresses, ports, TTL and the
// other header fields), with its own time, flags and length.
type rowAdder struct {
	c    tcpCols
	sh   *sessionShape
	rng  *rand.Rand
	from []int32
	vals []addedRow
}

type addedRow struct {
	ts     int64
	flags  uint8
	pktLen int64
}

// pick draws one value of xs.
func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// like adds a row sent by the sender of template at ts, with the flags
// and length of a real row drawn from kind.
func (a *rowAdder) like(template int32, ts int64, kind []int32) {
	r := int(pick(a.rng, kind))
	a.from = append(a.from, template)
	a.vals = append(a.vals, addedRow{ts: ts, flags: uint8(a.sh.realFlags.Int(r)), pktLen: a.sh.realLen.Int(r)})
}

// handshake puts a SYN and its SYN-ACK before a conversation that starts
// mid-stream: the first row's sender asks, its receiver answers; when the
// first row is itself a SYN-ACK only the SYN it answers goes before it.
func (a *rowAdder) handshake(cv *tcpConv) {
	t0 := a.c.ts.Int(int(cv.rows[0]))
	other := cv.rows[slices.Index(cv.side, 1)]
	if cv.flags(a.c, 0)&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN|abi.TCPACK {
		a.like(other, t0-pick(a.rng, a.sh.synGap), a.sh.syn)
		return
	}
	tAck := t0 - pick(a.rng, a.sh.synAckGap)
	a.like(cv.rows[0], tAck-pick(a.rng, a.sh.synGap), a.sh.syn)
	a.like(other, tAck, a.sh.synAck)
}

// teardown adds the FINs a conversation lacks after its last row: the
// side that has not closed, or for an open conversation both, the first
// side closing first as often as in the real trace.
func (a *rowAdder) teardown(cv *tcpConv) {
	last := func(s uint8) int32 {
		for i := len(cv.rows) - 1; ; i-- {
			if cv.side[i] == s {
				return cv.rows[i]
			}
		}
	}
	t := a.c.ts.Int(int(cv.rows[len(cv.rows)-1]))
	f0 := cv.firstFIN(a.c, 0) >= 0
	if !f0 && cv.firstFIN(a.c, 1) < 0 {
		first := uint8(1)
		if a.rng.IntN(a.sh.closedByFIN) < a.sh.firstSideCloses {
			first = 0
		}
		t += pick(a.rng, a.sh.fin1Gap)
		a.like(last(first), t, a.sh.fin)
		f0 = first == 0
	}
	s := uint8(0) // the side still open
	if f0 {
		s = 1
	}
	a.like(last(s), t+pick(a.rng, a.sh.fin2Gap), a.sh.fin)
}
