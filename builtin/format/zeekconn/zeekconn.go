// Package zeekconn is the zeek-conn format: Zeek's conn.log in its TSV form
// (#separator, #fields, … header lines), read into the canonical flow
// columns and written back as a valid conn.log.
//
// Mapping: orig → src, resp → dst; td = duration (unset → 0); pkt =
// orig_pkts + resp_pkts; byt = orig_ip_bytes + resp_ip_bytes (IP-level bytes
// of both directions, which is what NetFlow's byte count measures, unlike
// orig_bytes/resp_bytes, which count payload only). service, conn_state,
// label and detailedlabel are kept as string columns when the log has them.
package zeekconn

import (
	"bytes"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/internal/netshare"
	"github.com/netshare/netshare/sdk"
)

// Name is the format's component name.
const Name = "zeek-conn"

func init() {
	sdk.RegisterFormat(abi.Component{
		Name:    Name,
		Version: "1.0.0",
		Summary: "Zeek conn.log (TSV with #fields header) as flow records: orig→src, resp→dst, pkt and byt summed over both directions",
		Params: []abi.Param{
			{Name: "strings", Type: abi.ParamStrings, Default: []any{"service", "conn_state", "label", "detailedlabel"},
				Doc: "conn.log fields kept as string columns when the log has them"},
		},
		Defaults: netshare.Defaults(netshare.Flows, nil),
	}, sdk.Format{Detect: Detect, NewReader: NewReader, NewWriter: NewWriter})
}

// Detect recognises the #separator line every Zeek ASCII log starts with.
func Detect(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	return bytes.HasPrefix(head, []byte("#separator "))
}

// Zeek's field names for what the canonical columns come from.
const (
	fTS       = "ts"
	fOrigH    = "id.orig_h"
	fOrigP    = "id.orig_p"
	fRespH    = "id.resp_h"
	fRespP    = "id.resp_p"
	fProto    = "proto"
	fDuration = "duration"
	fOrigPkts = "orig_pkts"
	fRespPkts = "resp_pkts"
	fOrigIPB  = "orig_ip_bytes"
	fRespIPB  = "resp_ip_bytes"
)

// Output columns.
var columns = []struct {
	name string
	typ  abi.Type
}{
	{"srcip", abi.TypeIPv4}, {"dstip", abi.TypeIPv4}, {"srcport", abi.TypeU16}, {"dstport", abi.TypeU16},
	{"proto", abi.TypeU8}, {"ts", abi.TypeTime}, {"td", abi.TypeF64}, {"pkt", abi.TypeI64}, {"byt", abi.TypeI64},
}

const (
	colSrcIP = iota
	colDstIP
	colSrcPort
	colDstPort
	colProto
	colTS
	colTD
	colPkt
	colByt
	nColumns
)

// unescape decodes Zeek's \xHH escapes into dst. Other backslashes are
// kept as they are.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]) {
			dst = append(dst, unhex(s[i+2])<<4|unhex(s[i+3]))
			i += 3
			continue
		}
		dst = append(dst, s[i])
	}
	return dst
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// escape writes a string value the way Zeek does: the separator, line
// endings, backslashes and non-printable bytes become \xHH; "" is written
// as the empty marker, so a literal "(empty)" is escaped. "-" stays "-":
// it reads back as the string "-", the unset marker it came from.
func escape(dst []byte, s string, sep byte) []byte {
	if s == "" {
		return append(dst, emptyField...)
	}
	if s == emptyField {
		return append(append(dst, `\x28`...), s[1:]...)
	}
	const hexd = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == sep || c == '\\' || c < 0x20 || c >= 0x7f {
			dst = append(dst, '\\', 'x', hexd[c>>4], hexd[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

const (
	emptyField = "(empty)"
	unsetField = "-"
)
