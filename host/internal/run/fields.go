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
	packets := has("pkt_len")
	bounded := func(lo, hi float64) map[string]any { return map[string]any{"min": lo, "max": hi} }
	if private {
		// Under differential privacy nothing may be fitted on the data:
		// fixed bounds (NetShare's DP settings, notes §2.4) and fixed
		// vocabularies replace IP2Vec and data-derived ranges.
		iat := 300.0
		if packets {
			iat = 1
		}
		add("ts", pipeline.RoleTime, "time", map[string]any{"iat_min": 0.0, "iat_max": iat})
		add("srcip", pipeline.RoleAttribute, "ip-bits", nil)
		add("dstip", pipeline.RoleAttribute, "ip-bits", nil)
		add("srcport", pipeline.RoleAttribute, "continuous", bounded(0, 65535))
		add("dstport", pipeline.RoleAttribute, "continuous", bounded(0, 65535))
		add("proto", pipeline.RoleAttribute, "categorical", map[string]any{
			"int_choices": []any{int64(1), int64(6), int64(17), int64(47), int64(50)}, "unseen": "other", "other": "255"})
	} else {
		add("ts", pipeline.RoleTime, "time", nil)
		add("srcip", pipeline.RoleAttribute, "ip-bits", nil)
		add("dstip", pipeline.RoleAttribute, "ip-bits", nil)
		add("srcport", pipeline.RoleAttribute, "word2vec", nil)
		add("dstport", pipeline.RoleAttribute, "word2vec", nil)
		add("proto", pipeline.RoleAttribute, "word2vec", nil)
	}
	if packets {
		if private {
			add("pkt_len", pipeline.RoleFeature, "continuous", bounded(20, 1500))
		} else {
			add("pkt_len", pipeline.RoleFeature, "continuous", nil)
		}
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
	logScaled := func(lo, hi float64) map[string]any {
		if private {
			return map[string]any{"log1p": true, "min": lo, "max": hi}
		}
		return map[string]any{"log1p": true}
	}
	add("td", pipeline.RoleFeature, "continuous", logScaled(0, 600))
	add("pkt", pipeline.RoleFeature, "continuous", logScaled(1, 1e6))
	add("byt", pipeline.RoleFeature, "continuous", logScaled(20, 1.5e9))
	if private {
		// A label's vocabulary comes from the data; name it in [[fields]]
		// with its choices to model it under privacy.
		return fs
	}
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
