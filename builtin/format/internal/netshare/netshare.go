// Package netshare holds NetShare's choices of fields and encoders (Yin et
// al., SIGCOMM 2022; docs/encoders.md), which the builtin
// formats offer as their default fields: the packet set for pcap, the flow
// set for netflow-csv and zeek-conn. IPs as bits, the protocol as a
// category, the timestamp as flow start plus interarrival, and the
// per-record fields scaled with fixed bounds where the header format fixes
// them. Not NetShare's: sizes and durations use the mixed encoder, whose
// exact modes reproduce their spikes, and ports the rank encoder instead of
// IP2Vec (popular ports as categories, the rest as a rank among the
// field's own values; docs/encoders.md, "rank").
//
// Header fields that are nearly constant in practice (tos, the fragment
// offset) are categorical over the values seen, which reproduces them
// exactly. Under differential privacy nothing may be fitted on the data:
// fixed bounds (NetShare's DP settings) and fixed vocabularies replace
// IP2Vec and data-derived ranges.
package netshare

import "github.com/netshare/netshare/abi"

// Defaults is a format's Component.Defaults entries for a field set: set
// without and with privacy, plus extra entries of the format's own.
func Defaults(set func(private bool) abi.FieldDefaults, extra map[string]any) map[string]any {
	d := map[string]any{abi.DefaultFields: set(false), abi.DefaultPrivateFields: set(true)}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// Packets is the field set of packet records.
func Packets(private bool) abi.FieldDefaults {
	fs := tuple(private, 1)
	if private {
		fs = append(fs,
			feature("pkt_len", "continuous", bounded(20, 1500)),
			feature("tos", "continuous", bounded(0, 255)),
			feature("off", "continuous", bounded(0, 8191)),
			feature("tcp_flags", "continuous", bounded(0, 255)))
	} else {
		fs = append(fs,
			// Spikes (40–65 and 1500-byte packets) get exact modes when the
			// trace has them (docs/encoders.md, "mixed"; docs/fidelity.md).
			feature("pkt_len", "mixed", nil),
			feature("tos", "categorical", nil),
			feature("off", "categorical", nil),
			feature("tcp_flags", "categorical", nil))
	}
	fs = append(fs,
		feature("id", "continuous", bounded(0, 65535)),
		feature("flag", "categorical", map[string]any{"int_choices": []any{int64(0), int64(1), int64(2)}, "unseen": "other", "other": "0"}),
		feature("ttl", "continuous", bounded(0, 255)))
	return abi.FieldDefaults{Fields: fs}
}

// Flows is the field set of flow records. Without privacy, labels and
// other small vocabularies are modelled too; identifiers (one value per
// record, such as Zeek's uid) are not. Under privacy a label's vocabulary
// would come from the data: a pipeline names it in [[fields]] with its
// choices to model it.
func Flows(private bool) abi.FieldDefaults {
	// Sizes and durations have spikes (one-packet flows, zero durations):
	// mode-specific where the data has them; under privacy modes would
	// come from the data, so fixed bounds.
	enc := "mixed"
	logScaled := func(lo, hi float64) map[string]any {
		if private {
			return map[string]any{"log1p": true, "min": lo, "max": hi}
		}
		return map[string]any{"log1p": true}
	}
	if private {
		enc = "continuous"
	}
	fs := append(tuple(private, 300),
		feature("td", enc, logScaled(0, 600)),
		feature("pkt", enc, logScaled(1, 1e6)),
		feature("byt", enc, logScaled(20, 1.5e9)))
	d := abi.FieldDefaults{Fields: fs}
	if !private {
		d.Strings = &abi.StringDefault{Field: abi.Field{Role: abi.RoleFeature, Encoder: "categorical"}, MaxValues: maxCategories}
	}
	return d
}

// maxCategories bounds the string columns modelled by default.
const maxCategories = 64

// tuple is the time field and the 5-tuple; iatMax (seconds) bounds the
// interarrival under privacy.
func tuple(private bool, iatMax float64) []abi.Field {
	attr := func(name, enc string, params map[string]any) abi.Field {
		return abi.Field{Name: name, Role: abi.RoleAttribute, Encoder: enc, Params: params}
	}
	if private {
		return []abi.Field{
			{Name: "ts", Role: abi.RoleTime, Encoder: "time", Params: map[string]any{"iat_min": 0.0, "iat_max": iatMax}},
			attr("srcip", "ip-bits", nil),
			attr("dstip", "ip-bits", nil),
			attr("srcport", "continuous", bounded(0, 65535)),
			attr("dstport", "continuous", bounded(0, 65535)),
			attr("proto", "categorical", map[string]any{
				"int_choices": []any{int64(1), int64(6), int64(17), int64(47), int64(50)}, "unseen": "other", "other": "255"}),
		}
	}
	return []abi.Field{
		{Name: "ts", Role: abi.RoleTime, Encoder: "time"},
		attr("srcip", "ip-bits", nil),
		attr("dstip", "ip-bits", nil),
		// Not NetShare's IP2Vec: embeddings of ports seen in a few flows
		// carry nothing to learn, and the generated vectors crowd onto a
		// few of them (a SYN flood: 2,958 distinct source ports of 11,135,
		// JSD 0.41 → 0.22 as ranks); docs/fidelity.md, ablation.
		attr("srcport", "rank", nil),
		attr("dstport", "rank", nil),
		// Not NetShare's IP2Vec: through the shared embedding the protocol
		// collapses toward uniform (CAIDA 10k: JSD 0.032, TCP 76% real →
		// 58%; a Zeek log: 0.169), through a one-hot head it does not
		// (0.00005, 0.0052); docs/fidelity.md, ablation.
		attr("proto", "categorical", nil),
	}
}

func feature(name, enc string, params map[string]any) abi.Field {
	return abi.Field{Name: name, Role: abi.RoleFeature, Encoder: enc, Params: params}
}

func bounded(lo, hi float64) map[string]any { return map[string]any{"min": lo, "max": hi} }
