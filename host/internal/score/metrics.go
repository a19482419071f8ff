// Package score runs fidelity metric plugins over a real and a synthetic
// record table, picks the default metric set for a kind of records, and
// chooses the best of several synthetic candidates by rank sum, the way
// NetShare picks a checkpoint per chunk. Definitions of every metric are in
// docs/metrics.md.
package score

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
)

// Metric is one metric to run: a metric component (a builtin name such as
// "jsd", or "module/name") and its parameters, as a pipeline's [[metrics]]
// list names it.
type Metric struct {
	Name   string         `toml:"name" json:"name"`
	Params map[string]any `toml:"params" json:"params,omitempty"`
}

func (m Metric) String() string {
	if len(m.Params) == 0 {
		return m.Name
	}
	keys := slices.Sorted(maps.Keys(m.Params))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m.Params[k])
	}
	return m.Name + "(" + strings.Join(parts, ", ") + ")"
}

// Kinds of record tables, told apart by their columns.
const (
	Packets = "packets" // one row per packet: pkt_len, per-packet ts
	Flows   = "flows"   // one row per flow record: td, pkt, byt
)

// KindOf says whether b holds packets or flow records: pkt_len marks
// packets; td, pkt or byt mark flows. It returns "" for anything else.
func KindOf(b *abi.Batch) string {
	switch {
	case b.Column("pkt_len") != nil:
		return Packets
	case b.Column("td") != nil, b.Column("pkt") != nil, b.Column("byt") != nil:
		return Flows
	}
	return ""
}

// FiveTuple is the flow key.
var FiveTuple = []string{"srcip", "dstip", "srcport", "dstport", "proto"}

// ProtoLabels names IP protocol numbers in plots and in netshare inspect,
// as NetShare's flow files do (255 stands for every other protocol).
var ProtoLabels = map[string]any{"1": "ICMP", "4": "IPIP", "6": "TCP", "17": "UDP", "41": "IPv6", "47": "GRE", "50": "ESP", "255": "OTHER"}

// DefaultMetrics is NetShare's metric set for the kind of records in b
// (KindOf), restricted to the columns b has: SA/DA popularity-rank JSD,
// SP/DP/PR JSD, then for flows TS/TD/PKT/BYT EMD and records per flow,
// for packets packet size, arrival time and flow size; plus a JSD over
// every string column (type, label, …). It fails when b is neither kind.
func DefaultMetrics(b *abi.Batch) ([]Metric, error) {
	kind := KindOf(b)
	if kind == "" {
		return nil, fmt.Errorf("cannot choose default metrics: the records have neither pkt_len (packets) nor td/pkt/byt (flows); columns: %s", columnNames(b))
	}
	has := func(c string) bool { return b.Column(c) != nil }
	var out []Metric
	add := func(component string, params map[string]any, cols ...string) {
		for _, c := range cols {
			if !has(c) {
				return
			}
		}
		out = append(out, Metric{Name: component, Params: params})
	}
	add("jsd", map[string]any{"column": "srcip", "mode": "rank"}, "srcip")
	add("jsd", map[string]any{"column": "dstip", "mode": "rank"}, "dstip")
	add("jsd", map[string]any{"column": "srcport", "support": []any{int64(0), int64(65535)}}, "srcport")
	add("jsd", map[string]any{"column": "dstport", "support": []any{int64(0), int64(65535)}}, "dstport")
	add("jsd", map[string]any{"column": "proto", "support": []any{int64(0), int64(255)}, "labels": ProtoLabels}, "proto")
	hasKey := true
	for _, c := range FiveTuple {
		hasKey = hasKey && has(c)
	}
	if kind == Flows {
		add("emd", map[string]any{"column": "ts", "relative": true}, "ts")
		add("emd", map[string]any{"column": "td"}, "td")
		add("emd", map[string]any{"column": "pkt"}, "pkt")
		add("emd", map[string]any{"column": "byt"}, "byt")
		if hasKey {
			add("flow-size", map[string]any{"name": "records_per_flow_emd"})
		}
	} else {
		add("emd", map[string]any{"column": "pkt_len"}, "pkt_len")
		add("emd", map[string]any{"column": "ts", "relative": true, "name": "time_emd"}, "ts")
		// A packet is a record, so packets per 5-tuple (NetShare's FS) is
		// also the records-per-flow distribution; it is scored once.
		if hasKey {
			add("flow-size", map[string]any{"name": "flow_size_emd"})
		}
	}
	for _, c := range b.Columns {
		if c.Type == abi.TypeString {
			add("jsd", map[string]any{"column": c.Name}, c.Name)
		}
	}
	return out, nil
}

// Describe says in plain words what a metric measures, for reports. The
// real batch supplies column types (for units); it may be nil.
func Describe(m Metric, real *abi.Batch) string {
	str := func(k, def string) string {
		if v, ok := m.Params[k].(string); ok && v != "" {
			return v
		}
		return def
	}
	col := str("column", "?")
	unit := ""
	if real != nil {
		if c := real.Column(col); c != nil && c.Type == abi.TypeTime {
			unit = ", µs"
		}
	}
	if col == "td" {
		unit = ", s"
	}
	switch m.Name {
	case "jsd":
		if str("mode", "exact") == "rank" {
			return fmt.Sprintf("Jensen–Shannon divergence of %s popularity (counts by rank; addresses themselves ignored)", col)
		}
		return fmt.Sprintf("Jensen–Shannon divergence of %s value frequencies", col)
	case "emd":
		if b, _ := m.Params["relative"].(bool); b {
			return fmt.Sprintf("earth mover's distance of %s − min(%s)%s", col, col, unit)
		}
		return fmt.Sprintf("earth mover's distance of %s%s", col, unit)
	case "flow-size":
		what := "records"
		if c := str("count", "records"); c != "records" {
			what = "total " + c
		}
		key := "5-tuple"
		if k, ok := m.Params["key"].([]any); ok {
			key = fmt.Sprint(k...)
		} else if k, ok := m.Params["key"].([]string); ok {
			key = strings.Join(k, ", ")
		}
		return fmt.Sprintf("earth mover's distance of %s per flow (%s)", what, key)
	}
	return m.String()
}

// AxisLabel names the x axis of a metric's CDF plot.
func AxisLabel(m Metric, real *abi.Batch) string {
	col, _ := m.Params["column"].(string)
	unit := ""
	if c := real.Column(col); c != nil && c.Type == abi.TypeTime {
		unit = " (µs)"
	}
	if col == "td" {
		unit = " (s)"
	}
	switch m.Name {
	case "jsd":
		if mode, _ := m.Params["mode"].(string); mode == "rank" {
			return "popularity rank of " + col + " (1 = most common)"
		}
		return col
	case "emd":
		if rel, _ := m.Params["relative"].(bool); rel {
			return col + " − min(" + col + ")" + unit
		}
		return col + unit
	case "flow-size":
		if c, _ := m.Params["count"].(string); c != "" && c != "records" {
			return c + " per flow"
		}
		return "records per flow"
	}
	return ""
}

func columnNames(b *abi.Batch) string {
	names := make([]string, len(b.Columns))
	for i := range b.Columns {
		names[i] = b.Columns[i].Name
	}
	return strings.Join(names, ", ")
}
