// Package popular finds a column's popular values: those that appear in at
// least a given number of distinct flows; and its heavy values, those in
// fewer flows that hold as many records as that many flows hold on
// average (a port one long flow held). Encoders give each such value a
// category of its own in a softmax head before their usual encoding, as
// CTAB-GAN's mixed columns give frequent values a mode of their own (Zhao
// et al., ACML 2021): the generator then picks a frequent value as one
// choice instead of having to spell it exactly (docs/encoders.md).
package popular

import (
	"cmp"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
)

// FlowKey names the columns whose values identify a flow; a column's flows
// are told apart by the others present in the batch.
var FlowKey = []string{"srcip", "dstip", "srcport", "dstport", "proto"}

// Capacity bounds the values a Counter tracks. When more are seen, the
// values not yet in minFlows flows are forgotten, and of the others the
// Capacity/2 with the most rows are kept (lossy counting, as Manku and
// Motwani's heavy hitters): a value that is popular because it is
// frequent is seen again soon and confirmed, while a trace with millions
// of distinct addresses cannot grow the encoder's memory. Encoders keep at
// most a few hundred popular values, far below it.
const Capacity = 1 << 14

// Counter counts, per value of one column, the distinct flows it appears
// in, up to MinFlows, and its rows. Memory is bounded by Capacity values
// of minFlows flow hashes each, not by the rows or the cardinality.
type Counter struct {
	column   string
	minFlows int
	heavy    bool // keep heavy values through pruning
	seen     map[uint64]*tally
	// rareRows and rareFlows total the records and flows of the values
	// not (yet) in minFlows flows: their ratio is a rare value's records
	// per flow, the yardstick a heavy value's records are measured by.
	rareRows, rareFlows int64
}

// tally is one value's rows and distinct flow hashes (at most minFlows).
type tally struct {
	rows  int64
	flows []uint64
}

// NewCounter counts column's values; a value is popular once it is in
// minFlows distinct flows. With heavy, the values that Heavy returns are
// kept through pruning too.
func NewCounter(column string, minFlows int, heavy bool) *Counter {
	return &Counter{column: column, minFlows: minFlows, heavy: heavy, seen: map[uint64]*tally{}}
}

// Add counts the column's values in b, read with value(row). A row's flow
// is the hash of its other FlowKey columns; a long flow therefore counts
// once, however many records it has.
func (c *Counter) Add(b *abi.Batch, value func(row int) uint64) {
	var others []*abi.Column
	for _, name := range FlowKey {
		if name == c.column {
			continue
		}
		if o := b.Column(name); o != nil && o.Type != abi.TypeString {
			others = append(others, o)
		}
	}
	for r := range b.Len() {
		v := value(r)
		t := c.seen[v]
		if t == nil {
			t = &tally{}
			c.seen[v] = t
		}
		t.rows++
		if len(t.flows) >= c.minFlows {
			continue
		}
		c.rareRows++
		h := uint64(14695981039346656037)
		for _, o := range others {
			h ^= math.Float64bits(o.Float(r))
			h *= 1099511628211
		}
		if !slices.Contains(t.flows, h) {
			t.flows = append(t.flows, h)
			c.rareFlows++
			if len(t.flows) == c.minFlows {
				c.rareRows -= t.rows
				c.rareFlows -= int64(c.minFlows)
			}
		}
		if len(c.seen) > Capacity {
			c.prune()
		}
	}
}

// prune forgets the values neither popular nor heavy, and keeps the
// Capacity/2 popular ones and the Capacity/4 heavy ones with the most
// rows. A forgotten value's records and flows stay in the rare totals.
func (c *Counter) prune() {
	heavy := c.heavyRows()
	for v, t := range c.seen {
		if !c.kept(t, heavy) {
			delete(c.seen, v)
		}
	}
	if pop := c.Popular(len(c.seen)); len(pop) > Capacity/2 {
		for _, v := range pop[Capacity/2:] {
			delete(c.seen, v)
		}
	}
	if hv := c.Heavy(); len(hv) > Capacity/4 {
		slices.SortFunc(hv, func(a, b uint64) int { return cmp.Compare(c.seen[b].rows, c.seen[a].rows) })
		for _, v := range hv[Capacity/4:] {
			delete(c.seen, v)
		}
	}
}

// heavyRows is the records at which a value in fewer than minFlows flows
// is heavy; 0 when no value can be.
func (c *Counter) heavyRows() float64 {
	if !c.heavy || c.rareFlows == 0 {
		return 0
	}
	return float64(c.minFlows) * float64(c.rareRows) / float64(c.rareFlows)
}

func (c *Counter) isHeavy(t *tally, heavy float64) bool {
	return heavy > 0 && len(t.flows) < c.minFlows && float64(t.rows) >= heavy
}

// kept reports a value that pruning keeps: popular or heavy.
func (c *Counter) kept(t *tally, heavy float64) bool {
	return len(t.flows) >= c.minFlows || c.isHeavy(t, heavy)
}

// Heavy returns the values in fewer than minFlows flows whose records
// reach minFlows × the records per flow of such values: each weighs as
// much as minFlows average flows in the record-level scores, though few
// flows hold it. Nil unless the counter was made with heavy.
func (c *Counter) Heavy() []uint64 {
	heavy := c.heavyRows()
	var out []uint64
	for v, t := range c.seen {
		if c.isHeavy(t, heavy) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// Popular returns the values in at least minFlows distinct flows, the
// most common by rows first (ties by value), at most max of them.
func (c *Counter) Popular(max int) []uint64 {
	var out []uint64
	for v, t := range c.seen {
		if len(t.flows) >= c.minFlows {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b uint64) int {
		if d := cmp.Compare(c.seen[b].rows, c.seen[a].rows); d != 0 {
			return d
		}
		return cmp.Compare(a, b)
	})
	if len(out) > max {
		out = out[:max]
	}
	return out
}
