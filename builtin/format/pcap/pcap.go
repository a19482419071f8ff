// Package pcap is the builtin "pcap" format: it reads classic pcap and
// pcapng captures into packet records (one row per IPv4 packet) and writes
// packet records back as a valid capture. See docs/pcap.md.
package pcap

import (
	"encoding/binary"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/internal/netshare"
	"github.com/netshare/netshare/sdk"
)

func init() {
	sdk.RegisterFormat(abi.Component{
		Name:    "pcap",
		Version: "1.0.0",
		Summary: "packet captures: classic pcap (µs/ns, both byte orders) and pcapng; IPv4 packet records",
		Params: []abi.Param{
			{Name: "linktype", Type: abi.ParamString, Default: "raw",
				Doc: "writing: link layer of the output: raw (101), ipv4 (228), ethernet (1, fixed MACs), sll (113), sll2 (276), null (0), loop (108)"},
			{Name: "snaplen", Type: abi.ParamInt, Default: int64(DefaultSnaplen),
				Doc: "writing: most bytes captured per packet (link header included); packets longer are cut, their original length kept"},
			{Name: "payload", Type: abi.ParamString, Default: "none",
				Doc: "writing: none captures the headers only (original length = link header + pkt_len, as in CAIDA traces); zeros writes whole packets padded with zero bytes"},
			{Name: "precision", Type: abi.ParamString, Default: "us",
				Doc: "writing: timestamp resolution of the output, us or ns"},
			{Name: "pcapng", Type: abi.ParamBool, Default: false,
				Doc: "writing: produce pcapng (SHB, IDB, EPBs) instead of classic pcap"},
		},
		Defaults: netshare.Defaults(netshare.Packets, map[string]any{
			"columns": ColumnNames,
		}),
	}, sdk.Format{
		Detect:    Detect,
		NewReader: func(sdk.Env) (sdk.Reader, error) { return NewDecoder(), nil },
		NewWriter: func(env sdk.Env) (sdk.Writer, error) {
			opt, err := optionsFromParams(env.Params)
			if err != nil {
				return nil, err
			}
			return NewEncoder(opt)
		},
	})
}

// ColumnNames are the packet-record columns, in the order decoded batches
// hold them.
var ColumnNames = []string{"ts", "srcip", "dstip", "srcport", "dstport", "proto", "pkt_len", "tos", "id", "flag", "off", "ttl", "tcp_flags"}

// Magic numbers as the first four bytes read big-endian.
const (
	magicMicro       = 0xa1b2c3d4 // classic, µs, writer's byte order as read
	magicMicroSwap   = 0xd4c3b2a1
	magicNano        = 0xa1b23c4d
	magicNanoSwap    = 0x4d3cb2a1
	magicKuznetzov   = 0xa1b2cd34 // "modified" pcap (old Red Hat patch): 24-byte record headers
	magicKuzSwap     = 0x34cdb2a1
	blockSHB         = 0x0a0d0d0a // pcapng section header block type (a palindrome)
	byteOrderMagic   = 0x1a2b3c4d
	byteOrderMagicSw = 0x4d3c2b1a
)

// Detect reports whether head starts like a classic pcap or pcapng file.
func Detect(head []byte) bool {
	if len(head) < 4 {
		return false
	}
	switch binary.BigEndian.Uint32(head) {
	case magicMicro, magicMicroSwap, magicNano, magicNanoSwap, magicKuznetzov, magicKuzSwap:
		return true
	case blockSHB:
		if len(head) < 12 {
			// Too short to see the byte-order magic; the block type alone is
			// distinctive enough (CR LF LF CR cannot start a text format).
			return true
		}
		bom := binary.BigEndian.Uint32(head[8:])
		return bom == byteOrderMagic || bom == byteOrderMagicSw
	}
	return false
}

// Link types (LINKTYPE_* values as stored in files).
const (
	LinkNull     = 0
	LinkEthernet = 1
	LinkRawBSD   = 12 // DLT_RAW on most BSDs, seen in old files
	LinkRawOBSD  = 14 // DLT_RAW on OpenBSD
	LinkRaw      = 101
	LinkLoop     = 108
	LinkSLL      = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276
)

// LinkName names a link type for notes and errors.
func LinkName(lt uint32) string {
	switch lt {
	case LinkNull:
		return "null"
	case LinkEthernet:
		return "ethernet"
	case LinkRaw, LinkRawBSD, LinkRawOBSD:
		return "raw"
	case LinkLoop:
		return "loop"
	case LinkSLL:
		return "sll"
	case LinkIPv4:
		return "ipv4"
	case LinkIPv6:
		return "ipv6"
	case LinkSLL2:
		return "sll2"
	}
	return "unsupported"
}
