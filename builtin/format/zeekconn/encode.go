package zeekconn

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/internal/textrec"
	"github.com/netshare/netshare/sdk"
)

// The conn.log fields written before any extra string columns, with their
// Zeek types.
var connFields = []struct{ name, typ string }{
	{"ts", "time"}, {"uid", "string"}, {"id.orig_h", "addr"}, {"id.orig_p", "port"},
	{"id.resp_h", "addr"}, {"id.resp_p", "port"}, {"proto", "enum"}, {"service", "string"},
	{"duration", "interval"}, {"orig_bytes", "count"}, {"resp_bytes", "count"}, {"conn_state", "string"},
	{"local_orig", "bool"}, {"local_resp", "bool"}, {"missed_bytes", "count"}, {"history", "string"},
	{"orig_pkts", "count"}, {"orig_ip_bytes", "count"}, {"resp_pkts", "count"}, {"resp_ip_bytes", "count"},
	{"tunnel_parents", "set[string]"},
}

// Writer writes flow records as a conn.log. A flow record has no
// per-direction split, so all packets and bytes are written on the orig
// side (orig_pkts = pkt, orig_ip_bytes = byt, resp_* = 0) and read back to
// the same pkt and byt; payload byte counts and locality are unknown and
// written unset. String columns named uid, service, conn_state or history
// fill those fields (unset when absent; uids are then drawn from the
// instance's seed).
type Writer struct {
	started bool
	extras  []string // string columns written after tunnel_parents
	rng     uint64
	lastTS  int64
	any     bool
}

// NewWriter opens an encoder.
func NewWriter(env sdk.Env) (sdk.Writer, error) {
	return &Writer{rng: uint64(env.Seed)}, nil
}

func (e *Writer) start(dst []byte, b *abi.Batch, openTS int64) []byte {
	e.started = true
	if b != nil {
		for _, c := range b.Columns {
			if c.Type != abi.TypeString || isConnField(c.Name) || len(c.Name) == 0 || c.Name[0] == '_' {
				continue // conn fields go in their own place, never twice
			}
			e.extras = append(e.extras, c.Name)
		}
	}
	dst = append(dst, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t"...)
	dst = appendZeekTime(dst, openTS)
	dst = append(dst, "\n#fields"...)
	for _, f := range connFields {
		dst = append(dst, '\t')
		dst = append(dst, f.name...)
	}
	for _, x := range e.extras {
		dst = append(dst, '\t')
		dst = escape(dst, x, '\t')
	}
	dst = append(dst, "\n#types"...)
	for _, f := range connFields {
		dst = append(dst, '\t')
		dst = append(dst, f.typ...)
	}
	for range e.extras {
		dst = append(dst, "\tstring"...)
	}
	return append(dst, '\n')
}

// appendZeekTime writes a µs timestamp as Zeek's #open/#close stamp.
func appendZeekTime(dst []byte, us int64) []byte {
	return time.UnixMicro(us).UTC().AppendFormat(dst, "2006-01-02-15-04-05")
}

// Encode appends b's records as conn.log lines.
func (e *Writer) Encode(dst []byte, b *abi.Batch) ([]byte, error) {
	n := b.Len()
	need := [nColumns]*abi.Column{}
	for i, c := range columns {
		need[i] = b.Column(c.name)
		if need[i] == nil {
			return dst, fmt.Errorf("%s: records have no column %q", Name, c.name)
		}
		if need[i].Type == abi.TypeString {
			return dst, fmt.Errorf("%s: column %q is a string column", Name, c.name)
		}
	}
	if !e.started {
		open := int64(0)
		if n > 0 {
			open, _ = textrec.IntAt(need[colTS], 0, 1<<62)
		}
		dst = e.start(dst, b, open)
	}
	service, state, history := b.Column("service"), b.Column("conn_state"), b.Column("history")
	uid := b.Column("uid")
	if uid != nil && uid.Type != abi.TypeString {
		uid = nil
	}
	extras := make([]*abi.Column, len(e.extras))
	for i, x := range e.extras {
		extras[i] = b.Column(x)
		if extras[i] == nil || extras[i].Type != abi.TypeString {
			return dst, fmt.Errorf("%s: records lack string column %q that the first batch had", Name, x)
		}
	}
	for r := 0; r < n; r++ {
		var v [nColumns]int64
		for i, c := range need {
			if i == colTD {
				continue
			}
			x, err := textrec.IntAt(c, r, 1<<62)
			if err != nil {
				return dst, fmt.Errorf("%s: record %d: %w", Name, r, err)
			}
			v[i] = x
		}
		if err := checkRanges(&v); err != nil {
			return dst, fmt.Errorf("%s: record %d: %w", Name, r, err)
		}
		td := need[colTD].Float(r)
		if math.IsNaN(td) || math.IsInf(td, 0) || td < 0 {
			return dst, fmt.Errorf("%s: record %d: bad duration %v", Name, r, td)
		}
		dst = textrec.AppendScaled(dst, v[colTS], 6)
		dst = append(dst, '\t')
		if uid != nil {
			dst = escape(dst, uid.String(r), '\t')
		} else {
			dst = append(dst, 'C')
			dst = e.appendUID(dst)
		}
		dst = append(dst, '\t')
		dst = textrec.AppendIPv4(dst, uint32(v[colSrcIP]))
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, v[colSrcPort], 10)
		dst = append(dst, '\t')
		dst = textrec.AppendIPv4(dst, uint32(v[colDstIP]))
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, v[colDstPort], 10)
		dst = append(dst, '\t')
		dst = append(dst, protoName(uint8(v[colProto]))...)
		dst = append(dst, '\t')
		dst = appendString(dst, service, r)
		dst = append(dst, '\t')
		dst = textrec.AppendFloat(dst, td)
		dst = append(dst, "\t-\t-\t"...) // orig_bytes, resp_bytes
		dst = appendString(dst, state, r)
		dst = append(dst, "\t-\t-\t-\t"...) // local_orig, local_resp, missed_bytes
		dst = appendString(dst, history, r)
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, v[colPkt], 10)
		dst = append(dst, '\t')
		dst = strconv.AppendInt(dst, v[colByt], 10)
		dst = append(dst, "\t0\t0\t(empty)"...) // resp_pkts, resp_ip_bytes, tunnel_parents
		for _, c := range extras {
			dst = append(dst, '\t')
			dst = appendString(dst, c, r)
		}
		dst = append(dst, '\n')
		if !e.any || v[colTS] > e.lastTS {
			e.lastTS, e.any = v[colTS], true
		}
	}
	return dst, nil
}

// End writes the #close line, stamped with the latest record time so the
// output depends on the records alone.
func (e *Writer) End(dst []byte) ([]byte, error) {
	if !e.started {
		dst = e.start(dst, nil, 0)
	}
	dst = append(dst, "#close\t"...)
	dst = appendZeekTime(dst, e.lastTS)
	return append(dst, '\n'), nil
}

func isConnField(name string) bool {
	for _, f := range connFields {
		if f.name == name {
			return true
		}
	}
	return false
}

func appendString(dst []byte, c *abi.Column, r int) []byte {
	if c == nil || c.Type != abi.TypeString {
		return append(dst, unsetField...)
	}
	return escape(dst, c.String(r), '\t')
}

// appendUID writes 17 base62 characters, like Zeek's connection uids, from a
// splitmix64 stream so output is reproducible for a given seed.
func (e *Writer) appendUID(dst []byte) []byte {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	e.rng += 0x9e3779b97f4a7c15
	z := e.rng
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	hi := z
	for i := 0; i < 17; i++ {
		if i == 10 {
			hi = z*0x9e3779b97f4a7c15 ^ z>>17
		}
		dst = append(dst, digits[hi%62])
		hi /= 62
	}
	return dst
}

func protoName(p uint8) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	}
	// Zeek knows no other transports; the number is lost.
	return "unknown_transport"
}

func checkRanges(v *[nColumns]int64) error {
	limits := [...]struct {
		col int
		max int64
	}{{colSrcIP, math.MaxUint32}, {colDstIP, math.MaxUint32}, {colSrcPort, math.MaxUint16}, {colDstPort, math.MaxUint16},
		{colProto, 255}, {colPkt, math.MaxInt64}, {colByt, math.MaxInt64}}
	for _, l := range limits {
		if v[l.col] < 0 || v[l.col] > l.max {
			return fmt.Errorf("column %s: value %d outside 0..%d", columns[l.col].name, v[l.col], l.max)
		}
	}
	if v[colTS] <= -1e17 || v[colTS] >= 1e17 {
		return fmt.Errorf("column ts: %d µs is out of range", v[colTS])
	}
	return nil
}
