// Package baseline is the naive generator every real one must beat: it
// samples each column independently from the real trace's marginal
// distribution. It reproduces every per-field histogram and none of the
// joint structure (which addresses talk on which ports, how many records a
// flow has), so the flow-size and records-per-flow metrics expose it.
package baseline

import (
	"math/rand/v2"
	"sort"

	"github.com/netshare/netshare/abi"
)

// Marginals returns n records whose columns are drawn independently, each
// from the empirical distribution of the same column of real, sorted by ts
// when there is one.
func Marginals(real *abi.Batch, n int, seed uint64) *abi.Batch {
	r := rand.New(rand.NewPCG(seed, 0xba5e))
	m := real.Len()
	out := &abi.Batch{Columns: make([]abi.Column, len(real.Columns))}
	for i := range real.Columns {
		rows := make([]int32, n)
		for j := range rows {
			rows[j] = int32(r.IntN(m))
		}
		one := &abi.Batch{Columns: []abi.Column{real.Columns[i]}}
		out.Columns[i] = one.Take(rows).Columns[0]
	}
	ts := out.Column("ts")
	if ts == nil {
		return out
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(a, b int) bool { return ts.I64[order[a]] < ts.I64[order[b]] })
	return out.Take(order)
}
