// Package popular finds a column's popular values: those that appear in at
// least a given number of distinct flows. Encoders give each such value a
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
	seen     map[uint64]*tally
}

// tally is one value's rows and distinct flow hashes (at most minFlows).
type tally struct {
	rows  int64
	flows []uint64
}

// NewCounter counts column's values; a value is popular once it is in
// minFlows distinct flows.
func NewCounter(column string, minFlows int) *Counter {
	return &Counter{column: column, minFlows: minFlows, seen: map[uint64]*tally{}}
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
		h := uint64(14695981039346656037)
		for _, o := range others {
			h ^= math.Float64bits(o.Float(r))
			h *= 1099511628211
		}
		if !slices.Contains(t.flows, h) {
			t.flows = append(t.flows, h)
		}
		if len(c.seen) > Capacity {
			c.prune()
		}
	}
}

// prune forgets the values not yet popular and keeps the Capacity/2
// popular ones with the most rows.
func (c *Counter) prune() {
	for v, t := range c.seen {
		if len(t.flows) < c.minFlows {
			delete(c.seen, v)
		}
	}
	if len(c.seen) > Capacity/2 {
		for _, v := range c.Popular(len(c.seen))[Capacity/2:] {
			delete(c.seen, v)
		}
	}
}

// Popular returns the values in at least minFlows distinct flows, the most
// common by rows first (ties by value), at most max of them.
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
