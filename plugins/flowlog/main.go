// Command flowlog is an example third-party netshare plugin: a format for
// a plain-text flow log, one flow per line,
//
//	#flowlog ts srcip dstip srcport dstport proto byt
//	1700000000000000 10.0.0.1 10.0.0.2 51000 443 6 5120
//
// (ts in µs since the epoch, dotted IPv4 addresses, protocol numbers, bytes).
// Besides reading and writing the log, it offers its own default fields and
// encoders in its manifest, with and without differential privacy, so a
// pipeline that only names the input,
//
//	[input]
//	paths = ["capture.flowlog"]
//
// models this format's columns the way its author chose. Build it with the
// stock toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o flowlog.wasm ./plugins/flowlog
package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

func main() {}

// header is the first line of every flow log; it names the columns.
const header = "#flowlog ts srcip dstip srcport dstport proto byt"

func init() {
	sdk.SetModule("flowlog")
	sdk.RegisterFormat(abi.Component{
		Name:    "flowlog",
		Version: "1.0.0",
		Summary: "plain-text flow log: ts srcip dstip srcport dstport proto byt, one flow per line",
		Defaults: map[string]any{
			abi.DefaultFields:        defaults(false),
			abi.DefaultPrivateFields: defaults(true),
		},
	}, sdk.Format{
		Detect:    func(head []byte) bool { return bytes.HasPrefix(head, []byte(header)) },
		NewReader: func(sdk.Env) (sdk.Reader, error) { return &reader{}, nil },
		NewWriter: func(sdk.Env) (sdk.Writer, error) { return &writer{}, nil },
	})
}

// defaults are this format's fields: ports as plain bounded numbers and
// the protocol as a category (no shared embedding), the byte count on a
// log scale. Under privacy every bound and vocabulary is fixed in advance.
func defaults(private bool) abi.FieldDefaults {
	port := map[string]any{"min": 0.0, "max": 65535.0}
	proto := map[string]any(nil)
	bytes := map[string]any{"log1p": true}
	var ts map[string]any
	if private {
		proto = map[string]any{"int_choices": []any{int64(6), int64(17)}, "unseen": "other", "other": "6"}
		bytes = map[string]any{"log1p": true, "min": 0.0, "max": 1e9}
		ts = map[string]any{"iat_min": 0.0, "iat_max": 60.0}
	}
	return abi.FieldDefaults{Fields: []abi.Field{
		{Name: "ts", Role: abi.RoleTime, Encoder: "time", Params: ts},
		{Name: "srcip", Role: abi.RoleAttribute, Encoder: "ip-bits"},
		{Name: "dstip", Role: abi.RoleAttribute, Encoder: "ip-bits"},
		{Name: "srcport", Role: abi.RoleAttribute, Encoder: "continuous", Params: port},
		{Name: "dstport", Role: abi.RoleAttribute, Encoder: "continuous", Params: port},
		{Name: "proto", Role: abi.RoleAttribute, Encoder: "categorical", Params: proto},
		{Name: "byt", Role: abi.RoleFeature, Encoder: "continuous", Params: bytes},
	}}
}

// reader keeps the unfinished last line of a piece for the next one.
type reader struct {
	tail   []byte
	line   int64
	header bool
	stats  abi.ReadStats
}

func newBatch() *abi.Batch {
	return &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime}, {Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16}, {Name: "proto", Type: abi.TypeU8},
		{Name: "byt", Type: abi.TypeI64},
	}}
}

func (d *reader) Decode(p []byte) (*abi.Batch, error) {
	d.tail = append(d.tail, p...)
	b := newBatch()
	for {
		i := bytes.IndexByte(d.tail, '\n')
		if i < 0 {
			break
		}
		if err := d.parse(b, d.tail[:i]); err != nil {
			return nil, err
		}
		d.tail = d.tail[i+1:]
	}
	d.tail = append([]byte(nil), d.tail...)
	return b, nil
}

func (d *reader) End() (*abi.Batch, abi.ReadStats, error) {
	b := newBatch()
	if len(bytes.TrimSpace(d.tail)) > 0 {
		if err := d.parse(b, d.tail); err != nil {
			return nil, d.stats, err
		}
	}
	if !d.header {
		return nil, d.stats, fmt.Errorf("flowlog: no %q header line", header)
	}
	return b, d.stats, nil
}

// parse appends one line's flow to b; a malformed line is an error naming
// the line.
func (d *reader) parse(b *abi.Batch, line []byte) error {
	d.line++
	line = bytes.TrimSpace(line)
	if !d.header {
		if string(line) != header {
			return fmt.Errorf("flowlog line %d: want the header %q", d.line, header)
		}
		d.header = true
		return nil
	}
	if len(line) == 0 {
		return nil
	}
	f := bytes.Fields(line)
	if len(f) != 7 {
		return fmt.Errorf("flowlog line %d: %d fields, want 7", d.line, len(f))
	}
	ts, err1 := strconv.ParseInt(string(f[0]), 10, 64)
	src, err2 := netip.ParseAddr(string(f[1]))
	dst, err3 := netip.ParseAddr(string(f[2]))
	sp, err4 := strconv.ParseUint(string(f[3]), 10, 16)
	dp, err5 := strconv.ParseUint(string(f[4]), 10, 16)
	pr, err6 := strconv.ParseUint(string(f[5]), 10, 8)
	by, err7 := strconv.ParseInt(string(f[6]), 10, 64)
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			return fmt.Errorf("flowlog line %d: %w", d.line, err)
		}
	}
	if !src.Is4() || !dst.Is4() {
		return fmt.Errorf("flowlog line %d: addresses must be IPv4", d.line)
	}
	c := b.Columns
	c[0].I64 = append(c[0].I64, ts)
	c[1].U32 = append(c[1].U32, ipv4(src))
	c[2].U32 = append(c[2].U32, ipv4(dst))
	c[3].U16 = append(c[3].U16, uint16(sp))
	c[4].U16 = append(c[4].U16, uint16(dp))
	c[5].U8 = append(c[5].U8, uint8(pr))
	c[6].I64 = append(c[6].I64, by)
	d.stats.Records++
	return nil
}

func ipv4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

type writer struct{ started bool }

func (e *writer) Encode(dst []byte, b *abi.Batch) ([]byte, error) {
	if !e.started {
		dst = append(dst, header+"\n"...)
		e.started = true
	}
	cols := make([]*abi.Column, 7)
	for i, name := range []string{"ts", "srcip", "dstip", "srcport", "dstport", "proto", "byt"} {
		if cols[i] = b.Column(name); cols[i] == nil || !cols[i].Type.IsInt() {
			return nil, fmt.Errorf("flowlog: the records need an integer column %q", name)
		}
	}
	for r := 0; r < b.Len(); r++ {
		for i, c := range cols {
			if i > 0 {
				dst = append(dst, ' ')
			}
			if c.Type == abi.TypeIPv4 {
				v := uint32(c.Int(r))
				dst = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).AppendTo(dst)
			} else {
				dst = strconv.AppendInt(dst, c.Int(r), 10)
			}
		}
		dst = append(dst, '\n')
	}
	return dst, nil
}

func (e *writer) End(dst []byte) ([]byte, error) {
	if !e.started {
		dst = append(dst, header+"\n"...)
	}
	return dst, nil
}
