// Package netflowcsv is the netflow-csv format: flow records as CSV in
// NetShare's schema (srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt then
// string columns such as type and label), or any other flow CSV described by
// a column mapping (see docs/formats.md for the nfdump example).
package netflowcsv

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/internal/netshare"
	"github.com/netshare/netshare/sdk"
)

// Name is the format's component name.
const Name = "netflow-csv"

// Standard lists the canonical flow columns in NetShare's order.
var Standard = []string{"srcip", "dstip", "srcport", "dstport", "proto", "ts", "td", "pkt", "byt"}

var standardTypes = map[string]abi.Type{
	"srcip": abi.TypeIPv4, "dstip": abi.TypeIPv4, "srcport": abi.TypeU16, "dstport": abi.TypeU16,
	"proto": abi.TypeU8, "ts": abi.TypeTime, "td": abi.TypeF64, "pkt": abi.TypeI64, "byt": abi.TypeI64,
}

// Column indexes into Standard, for the hot loops.
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
	nStandard
)

func init() {
	sdk.RegisterFormat(abi.Component{
		Name:    Name,
		Version: "1.0.0",
		Summary: "flow records as CSV: NetShare's srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type[,label] or any flow CSV through a column mapping",
		Params: []abi.Param{
			{Name: "header", Type: abi.ParamBool, Default: true, Doc: "the first non-empty line names the columns (reading) / write a header line (writing)"},
			{Name: "table", Type: abi.ParamTable, Doc: "maps our column names to CSV column names or 0-based indexes; keys other than the nine standard columns become string columns. Unset: standard names, all other header columns kept as strings"},
			{Name: "time_format", Type: abi.ParamString, Default: "us", Doc: `"us", "ms" or "s" for a number (integer or decimal) since the epoch, or a Go time layout such as "2006-01-02 15:04:05" (UTC)`},
			{Name: "time_is", Type: abi.ParamString, Default: "start", Doc: `"start": the time column is the flow start; "end": it is the flow end and ts = time − td`},
			{Name: "ip_style", Type: abi.ParamString, Default: "int", Doc: `writing: "int" (uint32, as NetShare's files) or "dotted"; reading accepts both`},
			{Name: "proto_style", Type: abi.ParamString, Default: "name", Doc: `writing: "name" (TCP, UDP, …; numbers without a name stay numbers) or "number"; reading accepts both`},
			{Name: "delimiter", Type: abi.ParamString, Default: ",", Doc: "the one-byte field separator"},
		},
		Defaults: netshare.Defaults(netshare.Flows, nil),
	}, sdk.Format{Detect: Detect, NewReader: NewReader, NewWriter: NewWriter})
}

// Detect recognises a header line that names all nine standard columns.
// Headerless flow CSVs cannot be told from other CSVs; name the format.
func Detect(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			// The header must be complete to judge it.
			return false
		}
		line := bytes.TrimSpace(head[:i])
		head = head[i+1:]
		if len(line) == 0 {
			continue
		}
		names := map[string]bool{}
		for _, f := range bytes.Split(line, []byte(",")) {
			names[strings.ToLower(string(bytes.TrimSpace(f)))] = true
		}
		for _, s := range Standard {
			if !names[s] {
				return false
			}
		}
		return true
	}
	return false
}

// config is the parsed parameter set shared by decoder and encoder.
type config struct {
	header    bool
	delim     byte
	timeScale int    // 0 µs, 3 ms, 6 s, -1 layout
	layout    string // Go time layout when timeScale < 0
	timeEnd   bool
	ipDotted  bool
	protoNum  bool
	// mapping from our column names to a CSV name or index; nil = default.
	table map[string]source
	// extras are mapped keys that are not standard columns, sorted.
	extras []string
}

// source is where a column comes from: an index, or a name resolved
// against the header.
type source struct {
	index int // -1 when name is set
	name  string
}

func (s source) String() string {
	if s.index >= 0 {
		return "index " + strconv.Itoa(s.index)
	}
	return strconv.Quote(s.name)
}

func parseConfig(p sdk.Params) (*config, error) {
	c := &config{header: p.Bool("header")}
	d := p.String("delimiter")
	if len(d) != 1 || d[0] == '"' || d[0] == '\n' || d[0] == '\r' {
		return nil, fmt.Errorf("%s: delimiter must be one byte other than a quote or line ending, got %q", Name, d)
	}
	c.delim = d[0]
	switch tf := p.String("time_format"); tf {
	case "us", "":
		c.timeScale = 0
	case "ms":
		c.timeScale = 3
	case "s":
		c.timeScale = 6
	default:
		if !strings.ContainsAny(tf, "0123456789") {
			return nil, fmt.Errorf(`%s: time_format %q is neither "us", "ms", "s" nor a Go time layout (like "2006-01-02 15:04:05")`, Name, tf)
		}
		c.timeScale, c.layout = -1, tf
	}
	switch v := p.String("time_is"); v {
	case "start":
	case "end":
		c.timeEnd = true
	default:
		return nil, fmt.Errorf(`%s: time_is must be "start" or "end", got %q`, Name, v)
	}
	switch v := p.String("ip_style"); v {
	case "int":
	case "dotted":
		c.ipDotted = true
	default:
		return nil, fmt.Errorf(`%s: ip_style must be "int" or "dotted", got %q`, Name, v)
	}
	switch v := p.String("proto_style"); v {
	case "name":
	case "number":
		c.protoNum = true
	default:
		return nil, fmt.Errorf(`%s: proto_style must be "name" or "number", got %q`, Name, v)
	}
	if p.Has("table") {
		t := p.Table("table")
		c.table = make(map[string]source, len(t))
		for k, v := range t {
			if k == "" || strings.HasPrefix(k, "_") {
				return nil, fmt.Errorf("%s: table key %q: column names must not be empty or start with '_'", Name, k)
			}
			if v == "" {
				return nil, fmt.Errorf("%s: table key %q maps to an empty column name", Name, k)
			}
			src := source{index: -1, name: v}
			if n, err := strconv.Atoi(v); err == nil {
				if n < 0 || n > 10000 {
					return nil, fmt.Errorf("%s: table key %q: index %d out of range 0..10000", Name, k, n)
				}
				src = source{index: n}
			}
			c.table[k] = src
			if _, std := standardTypes[k]; !std {
				c.extras = append(c.extras, k)
			}
		}
		sort.Strings(c.extras)
		var missing []string
		for _, s := range Standard {
			if _, ok := c.table[s]; !ok {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s: table does not map %s (every standard column needs a source)", Name, strings.Join(missing, ", "))
		}
		if !c.header {
			for k, s := range c.table {
				if s.index < 0 {
					return nil, fmt.Errorf("%s: table key %q names CSV column %q, but header = false: use a 0-based index", Name, k, s.name)
				}
			}
		}
	} else if !c.header {
		return nil, fmt.Errorf("%s: header = false needs a table mapping columns to indexes", Name)
	}
	return c, nil
}
