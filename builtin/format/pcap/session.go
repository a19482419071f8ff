package pcap

import (
	"encoding/binary"

	"github.com/netshare/netshare/abi"
)

// What the records generate and what the writer derives (docs/pcap.md):
// the records give each packet's direction, time, length and flags; the
// writer keeps per-conversation state and derives what a TCP stack
// would have put in the header from them: sequence and acknowledgement
// numbers, options, window, and the flag bits the state machine implies
// (the SYN-ACK of a handshake, ACK once the peer has spoken).

// Fix-up reasons the session writer counts (see Writer.Fixes).
const (
	FixSynAck       = "tcp-synack"         // the responder's first packet after a SYN made a SYN-ACK
	FixAckSet       = "tcp-ack-set"        // ACK set on a packet sent after the peer spoke
	FixSynCleared   = "tcp-syn-cleared"    // SYN cleared inside an established connection
	FixFinCleared   = "tcp-fin-cleared"    // a second FIN from the same side cleared
	FixDataAfterFin = "tcp-data-after-fin" // payload sent after the side's own FIN (written as is)
)

// Option bits a side's SYN carried.
const (
	optMSS = 1 << iota
	optWS
	optSACK
	optTS
)

// Window a real stack sends (Linux): 64240 in a SYN (44 segments of
// 1460), 65160 in a SYN-ACK, and after the handshake 1 MiB when window
// scaling was agreed (shift 7, as Linux offers: an autotuned buffer) or
// the largest unscaled window otherwise, so no generated burst reads as
// a full window.
const (
	winSYN     = 64240
	winSYNACK  = 65160
	wsShift    = 7
	winScaled  = 1 << 20 >> wsShift
	winNoScale = 0xffff
	mss        = 1460
)

// convKey is a TCP conversation: the endpoint pair, lower endpoint first.
type convKey struct {
	a, b   uint32
	ap, bp uint16
}

// side is one endpoint's half of a connection.
type side struct {
	init    bool   // isn and next are set
	started bool   // has sent a packet
	syn     bool   // has sent a SYN
	opened  bool   // has sent a SYN without ACK (asked for a connection)
	synOnly bool   // has sent SYNs and nothing else
	synAckd bool   // the peer has acknowledged its SYN
	synKind uint8  // SYN and ACK bits of its first SYN
	fin     bool   // has sent a FIN
	opts    uint8  // options its SYN carried
	isn     uint32 // initial sequence number
	next    uint32 // next sequence number
	tsval   uint32 // last timestamp value sent
}

// conn is the writer's state of one conversation.
type conn struct {
	s     [2]side
	reset bool   // a RST ended the connection
	gen   uint32 // connections seen on this endpoint pair before this one
}

// conversation returns the state of the conversation src:sport ↔
// dst:dport and the index of the sending side in it.
func (e *Writer) conversation(src, dst uint32, sport, dport uint16) (*conn, int) {
	k, si := convKey{src, dst, sport, dport}, 0
	if src > dst || src == dst && sport > dport {
		k, si = convKey{dst, src, dport, sport}, 1
	}
	c := e.conns[k]
	if c == nil {
		c = &conn{}
		e.conns[k] = c
	}
	return c, si
}

// seqInit sets a side's initial sequence number: a hash of its endpoint
// and the connection's number on the pair, so output depends on nothing
// but the records.
func (s *side) seqInit(src, dst uint32, sport, dport uint16, gen uint32) {
	if !s.init {
		s.isn = isn(flowKey{src, dst, sport, dport}) + gen*0x9e3779b9
		s.next, s.init = s.isn, true
	}
}

// sessionHeader appends the TCP header of one packet of a conversation,
// fixing its flags to what the connection's state implies; payload is
// the bytes after the fixed 20-byte header (options come out of it).
func (e *Writer) sessionHeader(h []byte, ts int64, src, dst uint32, sport, dport uint16, flags uint8, payload int) []byte {
	c, si := e.conversation(src, dst, sport, dport)
	// A bare SYN on a closed conversation opens a new connection on the
	// same ports.
	if flags&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN && (c.reset || c.s[0].fin && c.s[1].fin) {
		*c = conn{gen: c.gen + 1}
	}
	me, peer := &c.s[si], &c.s[1-si]
	me.seqInit(src, dst, sport, dport, c.gen)
	orig := flags
	retransmit := false
	switch {
	case peer.opened && !peer.fin && !me.started && !c.reset:
		// The answer to a SYN: a SYN-ACK, or a refusal (RST-ACK).
		if flags&abi.TCPRST != 0 {
			flags = abi.TCPRST | abi.TCPACK
		} else {
			flags = abi.TCPSYN | abi.TCPACK | flags&0xc0 // keep ECE/CWR
			if orig&(abi.TCPSYN|abi.TCPACK) != abi.TCPSYN|abi.TCPACK {
				e.fixes[FixSynAck]++
			}
		}
	case flags&abi.TCPSYN != 0 && me.started:
		if me.synOnly && !me.synAckd && flags&(abi.TCPSYN|abi.TCPACK) == me.synKind {
			// Nothing but the SYN sent yet, and the peer has not
			// acknowledged it: the same SYN again is a retransmission,
			// with the SYN's own sequence number. Once acknowledged, or
			// as the other kind (a SYN-ACK after a bare SYN), a stack
			// has no reason to send it, and it would read as
			// retransmitted data: the SYN is cleared.
			retransmit = true
		} else {
			flags &^= abi.TCPSYN
			e.fixes[FixSynCleared]++
		}
	}
	if peer.started && flags&(abi.TCPACK|abi.TCPRST) == 0 {
		// Every segment after the peer's first carries an ACK.
		flags |= abi.TCPACK
		e.fixes[FixAckSet]++
	}
	if me.fin {
		if flags&abi.TCPFIN != 0 {
			flags &^= abi.TCPFIN
			e.fixes[FixFinCleared]++
		}
		if payload > 0 {
			e.fixes[FixDataAfterFin]++
		}
	}

	// Options: a SYN offers what fits in the bytes the record gives it,
	// in a real stack's layout; later segments carry timestamps when both
	// SYNs offered them and the segment has room.
	var opt [40]byte
	o, tsAt := opt[:0], -1
	if flags&abi.TCPSYN != 0 {
		o, me.opts, tsAt = synOptions(o, payload)
	} else if me.opts&optTS != 0 && peer.opts&optTS != 0 && payload >= 12 {
		o, tsAt = append(o, 1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0), 2
	}
	if tsAt >= 0 {
		// A millisecond clock starting at a per-side offset; the echo is
		// the peer's last value (0 until it has sent one).
		me.tsval = me.isn>>8 + uint32(ts/1000)
		binary.BigEndian.PutUint32(o[tsAt+2:], me.tsval)
		if flags&abi.TCPACK != 0 {
			binary.BigEndian.PutUint32(o[tsAt+6:], peer.tsval)
		}
	}
	data := payload - len(o)

	if flags&abi.TCPSYN != 0 && !me.started {
		// Its SYN is in the capture after all: a peer that
		// acknowledged it earlier took it for one sent before.
		me.next = me.isn
		me.synKind = flags & (abi.TCPSYN | abi.TCPACK)
	}
	seq := me.next
	if retransmit {
		seq = me.isn
	} else {
		next := seq + uint32(data)
		if flags&abi.TCPSYN != 0 {
			next++
		}
		if flags&abi.TCPFIN != 0 {
			next++
		}
		me.next = next
	}
	var ack uint32
	if flags&abi.TCPACK != 0 {
		if !peer.init {
			// The peer has not been seen: its SYN came before the
			// capture, and this acknowledges it.
			peer.seqInit(dst, src, dport, sport, c.gen)
			peer.next++
		} else if !peer.started && me.started && data == 0 && flags&(abi.TCPSYN|abi.TCPFIN|abi.TCPRST) == 0 {
			// A one-way capture (a backbone link sees one direction): a
			// stack sends a pure ACK because the unseen peer sent data,
			// so each acknowledges a segment more rather than repeating
			// the last (which reads as a duplicate ACK).
			peer.next += mss
		}
		ack = peer.next
	}
	win := uint16(winNoScale)
	switch {
	case flags&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN:
		win = winSYN
	case flags&abi.TCPSYN != 0:
		win = winSYNACK
	case me.opts&optWS != 0 && peer.opts&optWS != 0:
		win = winScaled
	}
	me.synOnly = flags&abi.TCPSYN != 0 && (!me.started || me.synOnly)
	peer.synAckd = peer.synAckd || peer.syn && flags&abi.TCPACK != 0
	me.started = true
	me.syn = me.syn || flags&abi.TCPSYN != 0
	me.opened = me.opened || flags&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN
	me.fin = me.fin || flags&abi.TCPFIN != 0
	c.reset = c.reset || flags&abi.TCPRST != 0

	h = binary.BigEndian.AppendUint16(h, sport)
	h = binary.BigEndian.AppendUint16(h, dport)
	h = binary.BigEndian.AppendUint32(h, seq)
	h = binary.BigEndian.AppendUint32(h, ack)
	h = append(h, byte(5+len(o)/4)<<4, flags)
	h = binary.BigEndian.AppendUint16(h, win)
	h = append(h, 0, 0, 0, 0) // checksum, urgent pointer
	return append(h, o...)
}

// synOptions appends the options a SYN offers in room bytes, as the
// commonest stacks lay them out, and says which were offered: 20 bytes
// Linux's MSS, SACK permitted, timestamps, NOP, window scale; 12 bytes
// Windows' MSS, NOP, window scale, NOP, NOP, SACK permitted; 8 bytes MSS,
// NOP, window scale; 4 bytes MSS alone. tsAt is where the timestamp
// option starts, or -1.
func synOptions(o []byte, room int) (_ []byte, offered uint8, tsAt int) {
	switch {
	case room >= 20:
		o = append(o, 2, 4, mss>>8, mss&0xff, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, wsShift)
		return o, optMSS | optSACK | optTS | optWS, 6
	case room >= 12:
		return append(o, 2, 4, mss>>8, mss&0xff, 1, 3, 3, wsShift, 1, 1, 4, 2), optMSS | optWS | optSACK, -1
	case room >= 8:
		return append(o, 2, 4, mss>>8, mss&0xff, 1, 3, 3, wsShift), optMSS | optWS, -1
	case room >= 4:
		return append(o, 2, 4, mss>>8, mss&0xff), optMSS, -1
	}
	return o, 0, -1
}
