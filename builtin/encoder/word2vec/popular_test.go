package word2vec

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestPopularValues: on the real trace, a column's values in at least
// min_flows distinct flows get categories; every value round-trips; a
// category decodes to its value whatever the vector says, and "any other"
// never decodes to a popular value.
func TestPopularValues(t *testing.T) {
	b := loadUGR(t)
	w := newWire(t)
	raw := w.Fit(w.Open("word2vec", "dstport", nil, 7), b)
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"srcport", "dstport"} {
		t.Run(col, func(t *testing.T) {
			pop := st.Columns[col].Popular
			if len(pop) == 0 {
				t.Fatalf("no popular %s values on UGR'16 (the most common carry hundreds of flows)", col)
			}
			// Each is in ≥ 5 distinct flows of the column.
			flows := map[int64]map[[4]float64]bool{}
			c := b.Column(col)
			for r := range b.Len() {
				v := c.Int(r)
				var k [4]float64
				i := 0
				for _, n := range []string{"srcip", "dstip", "srcport", "dstport", "proto"} {
					if n != col {
						k[i] = b.Column(n).Float(r)
						i++
					}
				}
				if flows[v] == nil {
					flows[v] = map[[4]float64]bool{}
				}
				flows[v][k] = true
			}
			for v, fl := range flows {
				if got, want := slices.Contains(pop, v), len(fl) >= 5; got != want && len(pop) < 256 {
					t.Errorf("value %d in %d flows: popular %v, want %v", v, len(fl), got, want)
				}
			}

			h := w.Open("word2vec", col, nil, 7)
			outs := w.Load(h, raw)
			if len(outs) != 2 || outs[0].Width != len(pop)+1 || !outs[0].Discrete || outs[1].Width != 10 {
				t.Fatalf("outputs %+v: want a %d-wide softmax, then the 10-wide vector", outs, len(pop)+1)
			}
			enc := w.Encode(h, sub(b, col))
			got := w.Decode(h, enc).Column(col)
			for r := range b.Len() {
				if got.Int(r) != c.Int(r) {
					t.Fatalf("row %d: %d decodes to %d", r, c.Int(r), got.Int(r))
				}
			}
			// Swap the categories: category k decodes to pop[k] whatever
			// the vector; "any other" with a popular value's vector
			// decodes to a value that is not popular.
			other := uint32(len(pop))
			for r := range enc.Rows {
				if enc.Hot[r] == other {
					enc.Hot[r] = 0
				} else {
					enc.Hot[r] = other
				}
			}
			got = w.Decode(h, enc).Column(col)
			for r := range enc.Rows {
				v := got.Int(r)
				if enc.Hot[r] == 0 && v != pop[0] {
					t.Fatalf("row %d: category 0 decodes to %d, want %d", r, v, pop[0])
				}
				if enc.Hot[r] == other && slices.Contains(pop, v) {
					t.Fatalf("row %d: \"any other\" decodes to popular value %d", r, v)
				}
			}
		})
	}
}

// TestPopularOff: min_flows = 0 and a pretrained model without categories
// give the embedding alone.
func TestPopularOff(t *testing.T) {
	w := newWire(t)
	raw := w.Fit(w.Open("word2vec", "dstport", embeddingOnly(), 3), synthetic(400))
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	for col, ci := range st.Columns {
		if len(ci.Popular) > 0 {
			t.Errorf("min_flows = 0: column %s has popular values %v", col, ci.Popular)
		}
	}
	h := w.Open("word2vec", "dstport", map[string]any{"pretrained": string(raw), "private": true}, 3)
	outs := w.Load(h, w.Fit(h, synthetic(400)))
	if len(outs) != 1 || outs[0].Width != 10 {
		t.Fatalf("outputs %+v: want the vector alone", outs)
	}
	if e := w.Encode(h, sub(synthetic(10), "dstport")); e.HotWidth != 0 {
		t.Fatalf("encoded %d indices a row, want none", e.HotWidth)
	}
}
