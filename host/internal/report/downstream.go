package report

import (
	"sort"
	"strings"
)

// The downstream evaluators (builtin/metric/{classify,sketch,anomaly,audit})
// return many values named "<evaluator>.<…>", with "….flag" values that
// are 0 for pass and 1 for warn. They are not distances between
// distributions, so the report shows them apart: one card per evaluator
// with a verdict per check and the values behind it.

type taskView struct {
	Title, Help string
	Checks      []checkView
	Rows        []rowView
}

type checkView struct{ Name, Verdict, Class, Detail string }

type rowView struct{ Name, Value string }

var tasks = []struct{ prefix, title, help string }{
	{"classify", "Traffic classification", "Classifiers trained on synthetic records and tested on real ones, against the same classifiers trained on real records: their accuracies and whether they rank the same."},
	{"sketch", "Telemetry sketches", "Heavy-hitter estimation with Count-Min, Count Sketch and UnivMon at equal memory: each sketch's error on real and on synthetic traffic, and whether the sketches rank the same."},
	{"anomaly", "Anomaly detection", "One-class detectors on per-flow features: the share of flows each flags as anomalous on real and on synthetic traffic, and whether the detectors rank the same."},
	{"audit", "Privacy audit", "Whether synthetic records copy training records: exact copies, distance to the closest training record against unseen real records, and a membership-inference attack."},
}

// headline names the values that explain each check's verdict, by the
// flag's name.
var headline = map[string][]string{
	"classify.flag":         {"classify.mean_gap", "classify.spearman"},
	"sketch.flag":           {"sketch.mean_relerr_diff", "sketch.pkt.rank_preserved", "sketch.byt.rank_preserved"},
	"anomaly.flag":          {"anomaly.mean_relerr", "anomaly.spearman"},
	"audit.exact_copy.flag": {"audit.exact_copy.tuple_rate", "audit.exact_copy.tuple_chance", "audit.exact_copy.tuple_rate_holdout"},
	"audit.dcr.flag":        {"audit.dcr.syn_share_below_holdout_p5", "audit.dcr.holdout_share_below_holdout_p5"},
	"audit.mia.flag":        {"audit.mia.advantage", "audit.mia.critical"},
}

func taskOf(name string) int {
	for i, t := range tasks {
		if strings.HasPrefix(name, t.prefix+".") {
			return i
		}
	}
	return -1
}

// splitDownstream separates the evaluators' values from fidelity scores.
func splitDownstream(scores []NamedScore) (fidelity []NamedScore, out []taskView) {
	groups := make([][]NamedScore, len(tasks))
	for _, s := range scores {
		if i := taskOf(s.Name); i >= 0 {
			groups[i] = append(groups[i], s)
		} else {
			fidelity = append(fidelity, s)
		}
	}
	for i, g := range groups {
		if len(g) == 0 {
			continue
		}
		tv := taskView{Title: tasks[i].title, Help: tasks[i].help}
		sort.Slice(g, func(a, b int) bool { return g[a].Name < g[b].Name })
		values := map[string]float64{}
		for _, s := range g {
			values[s.Name] = s.Value
		}
		for _, s := range g {
			tv.Rows = append(tv.Rows, rowView{Name: s.Name, Value: formatNumber(s.Value)})
			if !strings.HasSuffix(s.Name, ".flag") {
				continue
			}
			check := strings.TrimSuffix(strings.TrimPrefix(s.Name, tasks[i].prefix), ".flag")
			check = strings.TrimPrefix(check, ".")
			if check == "" {
				check = "overall"
			}
			c := checkView{Name: strings.ReplaceAll(check, "_", " "), Verdict: "pass: behaves like the real trace", Class: "good"}
			if s.Value != 0 {
				c.Verdict, c.Class = "warn: differs from the real trace", "bad"
				if tasks[i].prefix == "audit" {
					c.Verdict = "warn: synthetic records sit too close to training records"
				}
			} else if tasks[i].prefix == "audit" {
				c.Verdict = "pass: no sign of copied training records"
			}
			var parts []string
			for _, n := range headline[s.Name] {
				if v, ok := values[n]; ok {
					parts = append(parts, strings.TrimPrefix(n, tasks[i].prefix+".")+" "+formatNumber(v))
				}
			}
			c.Detail = strings.Join(parts, " · ")
			tv.Checks = append(tv.Checks, c)
		}
		out = append(out, tv)
	}
	return fidelity, out
}
