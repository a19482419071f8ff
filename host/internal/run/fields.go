package run

import (
	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/pipeline"
)

// defaultFields are NetShare's encodings (notes §2.3) for the columns the
// records have: packets (a pkt_len column) or flow records (td/pkt/byt).
// IPs as bits, ports and protocol through one shared IP2Vec model, the
// timestamp as flow start plus interarrival, and the per-record fields
// scaled with fixed bounds where the header format fixes them.
//
// Header fields that are nearly constant in practice (tos, the fragment
// offset) are categorical over the values seen, which reproduces them
// exactly; under differential privacy, where vocabularies may not come
// from the data, they fall back to fixed-bound continuous encodings.
func defaultFields(records *abi.Batch, private bool) []pipeline.Field {
	has := func(c string) bool { return records.Column(c) != nil }
	var fs []pipeline.Field
	add := func(name, role, enc string, params map[string]any) {
		if has(name) {
			fs = append(fs, pipeline.Field{Name: name, Role: role, Encoder: enc, Params: params})
		}
	}
	add("ts", pipeline.RoleTime, "time", nil)
	add("srcip", pipeline.RoleAttribute, "ip-bits", nil)
	add("dstip", pipeline.RoleAttribute, "ip-bits", nil)
	add("srcport", pipeline.RoleAttribute, "word2vec", nil)
	add("dstport", pipeline.RoleAttribute, "word2vec", nil)
	add("proto", pipeline.RoleAttribute, "word2vec", nil)
	bounded := func(lo, hi float64) map[string]any { return map[string]any{"min": lo, "max": hi} }
	if has("pkt_len") { // packets
		add("pkt_len", pipeline.RoleFeature, "continuous", nil)
		if private {
			add("tos", pipeline.RoleFeature, "continuous", bounded(0, 255))
			add("off", pipeline.RoleFeature, "continuous", bounded(0, 8191))
			add("tcp_flags", pipeline.RoleFeature, "continuous", bounded(0, 255))
		} else {
			add("tos", pipeline.RoleFeature, "categorical", nil)
			add("off", pipeline.RoleFeature, "categorical", nil)
			add("tcp_flags", pipeline.RoleFeature, "categorical", nil)
		}
		add("id", pipeline.RoleFeature, "continuous", bounded(0, 65535))
		add("flag", pipeline.RoleFeature, "categorical", map[string]any{"int_choices": []any{int64(0), int64(1), int64(2)}, "unseen": "other", "other": "0"})
		add("ttl", pipeline.RoleFeature, "continuous", bounded(0, 255))
		return fs
	}
	log1p := map[string]any{"log1p": true}
	add("td", pipeline.RoleFeature, "continuous", log1p)
	add("pkt", pipeline.RoleFeature, "continuous", log1p)
	add("byt", pipeline.RoleFeature, "continuous", log1p)
	// Labels and other small vocabularies are modelled; identifiers (one
	// value per record, such as Zeek's uid) are not.
	for _, c := range records.Columns {
		if c.Type == abi.TypeString && len(c.Dict) <= maxCategories {
			add(c.Name, pipeline.RoleFeature, "categorical", nil)
		}
	}
	return fs
}

// maxCategories bounds the string columns modelled by default.
const maxCategories = 64
