package score

import (
	"fmt"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
)

// How each column is discretised for the joint metrics: ports keep their
// 30 most common real values (the rest are "other"), the protocol every
// value, numbers fall into real-quantile cells (docs/fidelity.md).
func jointBins(col string) string {
	switch col {
	case "srcport", "dstport":
		return "top"
	case "proto":
		return "value"
	}
	return "quantile"
}

// jointSets are the column sets whose joint distributions are compared, by
// kind of records: for flow records, protocol × port, port × size, size ×
// bytes, duration × size, port × port and protocol × port × bytes; for
// packets the same with the packet length, and per flow (5-tuple) records
// × mean packet length and port × records.
var jointSets = map[string][][]string{
	Flows: {{"proto", "dstport"}, {"dstport", "pkt"}, {"pkt", "byt"}, {"td", "pkt"}, {"srcport", "dstport"}, {"proto", "dstport", "byt"}},
	Packets: {{"proto", "dstport"}, {"dstport", "pkt_len"}, {"srcport", "dstport"}, {"proto", "dstport", "pkt_len"},
		{"flow:records", "flow:pkt_len"}, {"flow:dstport", "flow:records"}},
}

// JointMetrics is the joint-structure metric set for the kind of records in
// b, restricted to the columns b has. A column written "flow:c" is scored
// per flow (5-tuple): "flow:records" is records per flow, a key column its
// value, any other column its mean over the flow; such sets need the
// 5-tuple.
func JointMetrics(b *abi.Batch) []Metric {
	hasKey := true
	for _, c := range FiveTuple {
		hasKey = hasKey && b.Column(c) != nil
	}
	var out []Metric
sets:
	for _, set := range jointSets[KindOf(b)] {
		cols, bins := make([]any, len(set)), make([]any, len(set))
		perFlow := false
		for i, c := range set {
			if f, ok := strings.CutPrefix(c, "flow:"); ok {
				c, perFlow = f, true
			}
			if c != "records" && b.Column(c) == nil {
				continue sets
			}
			cols[i], bins[i] = c, jointBins(c)
		}
		p := map[string]any{"columns": cols, "bins": bins}
		if perFlow {
			if !hasKey {
				continue
			}
			fk := make([]any, len(FiveTuple))
			for i, c := range FiveTuple {
				fk[i] = c
			}
			p["flow_key"] = fk
		}
		out = append(out, Metric{Name: "joint", Params: p})
	}
	return out
}

// describeJoint says what a joint metric compares.
func describeJoint(m Metric) string {
	cols := anyStrings(m.Params["columns"])
	perFlow := len(anyStrings(m.Params["flow_key"])) > 0
	parts := make([]string, len(cols))
	for i, c := range cols {
		switch {
		case perFlow && c == "records":
			parts[i] = "records per flow"
		case perFlow && !slices.Contains(FiveTuple, c):
			parts[i] = "mean " + c + " per flow"
		default:
			parts[i] = c
		}
	}
	what := "records"
	if perFlow {
		what = "flows (5-tuple)"
	}
	return fmt.Sprintf("total variation distance of the joint distribution of %s over %s", strings.Join(parts, " × "), what)
}

// anyStrings reads a []string parameter as TOML or code gives it.
func anyStrings(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// repeatsKey reports whether two records of b share a 5-tuple: per-flow
// gaps need a flow of two records.
func repeatsKey(b *abi.Batch) bool { return repeats(b, FiveTuple) }

// repeats reports whether two records of b share their values of key.
func repeats(b *abi.Batch, key []string) bool {
	cols := make([]*abi.Column, len(key))
	for i, c := range key {
		if cols[i] = b.Column(c); cols[i] == nil {
			return false
		}
	}
	seen := make(map[string]struct{}, b.Len())
	var buf []byte
	for r := range b.Len() {
		buf = abi.AppendKey(buf[:0], cols, r)
		if _, ok := seen[string(buf)]; ok {
			return true
		}
		seen[string(buf)] = struct{}{}
	}
	return false
}

// Scorable reports whether metric m can score anything against real. A
// chunk of a trace can lack what the whole trace has: on a spoofed SYN
// flood, one chunk's flows all had one record, so flow-iat, listed for
// the trace, had no gap to compare, and choosing that chunk's checkpoint
// failed the run. A choice against such a chunk goes without the metric.
func Scorable(m Metric, real *abi.Batch) bool {
	if m.Name != "flow-iat" {
		return true
	}
	key := FiveTuple
	if k, ok := m.Params["key"]; ok {
		key = anyStrings(k)
	}
	return repeats(real, key)
}
