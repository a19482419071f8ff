package run

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/encoding"
)

// guardStats counts what the copy guard did to one generated chunk.
type guardStats struct {
	Copies  int // flows whose key was a training flow's
	Shared  int // flows whose key an earlier synthetic flow already had
	Redrawn int // of those, flows given a new key by redrawing one field
	Dropped int // flows dropped: no redraw gave them a key of their own
}

// maxRedraws bounds the distinct values tried per field for one flow: a
// cost bound, not a fidelity choice. It is reached only in a stratum
// whose values nearly all collide, where the flow is then dropped.
const maxRedraws = 64

// distinctSample is how many flows rank the key fields by distinct values.
const distinctSample = 1 << 16

// guardFlows gives every generated flow of b a flow key of its own that
// is no training flow's key (those in real; nil: copies are kept), and
// returns b without its _flow column. Two flows with one key would read
// as one flow in the output. A flow whose key collides gets one key
// field redrawn (a copy only with redrawCopies; otherwise it is dropped):
// the field with the most distinct generated values first, since it says
// least about the conversation (on CTU-Normal-43, the ephemeral source
// port of one of the 1,288 connections between the same two hosts on
// 443). The new value is one the colliding flows were generated with,
// dealt out again among them, in the finest stratum of flows sharing the
// coarser key fields where one is free (guard.redraw): each field's
// distribution and what it goes with stay the model's, as in data
// swapping for disclosure control (Dalenius and Reiss, J. Stat. Plan.
// Inference 1982). Dropping the flow instead removes exactly the flows
// whose keys are easy to hit: on CTU-Normal-43, 19% of the flows, most of
// them to the trace's busiest service (docs/privacy.md). A flow no redraw
// separates is dropped.
func guardFlows(b *abi.Batch, key []string, real map[string]struct{}, redrawCopies bool, rng *rand.Rand) (*abi.Batch, guardStats) {
	var st guardStats
	fc := b.Column(abi.FlowColumn)
	if fc == nil || b.Len() == 0 {
		return dropFlowColumn(b), st
	}
	// Redrawing writes key columns: work on copies of them.
	b = &abi.Batch{Columns: slices.Clone(b.Columns)}
	var keyCols []*abi.Column
	for _, name := range key {
		for i := range b.Columns {
			if c := &b.Columns[i]; c.Name == name {
				*c = cloneColumn(*c)
				keyCols = append(keyCols, c)
			}
		}
	}
	flows := flowRows(b.Column(abi.FlowColumn))
	appendKey := flowKeyer(b, key)
	// Fields in order of distinct generated values, most first, counted
	// on the first distinctSample flows: the order needs no more, and
	// counting all of millions of addresses would cost their memory.
	distinct := make([]int, len(keyCols))
	for j, c := range keyCols {
		seen := map[cell]struct{}{}
		for _, rows := range flows[:min(len(flows), distinctSample)] {
			seen[getCell(c, int(rows[0]))] = struct{}{}
		}
		distinct[j] = len(seen)
	}
	order := make([]int, len(keyCols))
	for j := range order {
		order[j] = j
	}
	slices.SortStableFunc(order, func(a, c int) int { return distinct[c] - distinct[a] })

	// The keys taken: every key as generated (a redraw must not take one
	// that a later flow holds), and each redrawn flow's new key.
	held := make(map[string]int, len(flows))
	buf := make([]byte, 0, 64)
	for fi := len(flows) - 1; fi >= 0; fi-- {
		buf = appendKey(buf[:0], int(flows[fi][0]))
		held[string(buf)] = fi
	}
	free := func(row int) bool {
		buf = appendKey(buf[:0], row)
		_, copied := real[string(buf)]
		_, taken := held[string(buf)]
		return !copied && !taken
	}
	// Which flows collide: the copies (redrawn, or dropped here) and the
	// later holders of a shared key.
	keepFlow := make([]bool, len(flows))
	collide := make([]bool, len(flows))
	for fi, rows := range flows {
		buf = appendKey(buf[:0], int(rows[0]))
		switch _, copied := real[string(buf)]; {
		case copied:
			st.Copies++
			collide[fi] = redrawCopies
			if !redrawCopies {
				st.Dropped++
			}
		case held[string(buf)] != fi:
			st.Shared++
			collide[fi] = true
		default:
			keepFlow[fi] = true
		}
	}
	g := newGuard(flows, keyCols, order, collide)
	keep := make([]int32, 0, b.Len())
	for fi, rows := range flows {
		if collide[fi] {
			if !g.redraw(fi, rng, free) {
				st.Dropped++
				continue
			}
			st.Redrawn++
			buf = appendKey(buf[:0], int(rows[0]))
			held[string(buf)] = fi
		} else if !keepFlow[fi] {
			continue
		}
		keep = append(keep, rows...)
	}
	slices.Sort(keep)
	return dropFlowColumn(b.Take(keep)), st
}

// guard redraws key fields of colliding flows. order lists the key fields
// by distinct generated values, most first; the last, the coarsest (the
// protocol, in a 5-tuple), is never redrawn and bounds every stratum, so
// that a port is never put on a flow of another protocol.
type guard struct {
	flows   [][]int32
	cols    []*abi.Column
	order   []int
	collide []int32         // the colliding flows
	ci      map[int32]int32 // flow → its index in collide
	// orig and dealt are, per field and colliding flow, its value as
	// generated and whether a flow has taken it: redrawing deals the
	// values the model generated for the colliding flows out again,
	// each once.
	orig  [][]cell
	dealt [][]bool
	// pools groups the colliding flows by the fields a stratum shares
	// (a bit mask over cols), per redrawn field.
	pools map[[2]int]map[string][]int32
	masks [][]int // per field, the strata it is redrawn in (shared)
	// strata holds, per coarsest value, every flow: the fallback where
	// no pool has a free value, which repeats a value another flow holds.
	strata map[cell][]int32
}

func newGuard(flows [][]int32, cols []*abi.Column, order []int, collide []bool) *guard {
	g := &guard{flows: flows, cols: cols, order: order, ci: map[int32]int32{}, pools: map[[2]int]map[string][]int32{}}
	for fi, c := range collide {
		if c {
			g.ci[int32(fi)] = int32(len(g.collide))
			g.collide = append(g.collide, int32(fi))
		}
	}
	g.masks = make([][]int, len(cols))
	if len(order) > 1 {
		for _, j := range order[:len(order)-1] {
			g.masks[j] = g.shared(j)
		}
	}
	g.orig, g.dealt = make([][]cell, len(cols)), make([][]bool, len(cols))
	for j, col := range cols {
		g.orig[j], g.dealt[j] = make([]cell, len(g.collide)), make([]bool, len(g.collide))
		for c, fi := range g.collide {
			g.orig[j][c] = getCell(col, int(flows[fi][0]))
		}
	}
	return g
}

func (g *guard) coarse(row int) cell { return getCell(g.cols[g.order[len(g.order)-1]], row) }

// shared lists, for redrawing field j, the sets of other key fields a
// stratum shares (bit masks), finest first: every set that holds the
// coarsest field, but not all the others (flows agreeing on every other
// field hold, or copy, exactly the keys a redraw must avoid); larger
// sets first, and of equal size the one keeping coarser fields.
func (g *guard) shared(j int) []int {
	coarsest := g.order[len(g.order)-1]
	var others []int
	for _, i := range g.order[:len(g.order)-1] {
		if i != j {
			others = append(others, i)
		}
	}
	if len(others) > 6 { // a long key: the coarsest field alone
		return []int{1 << coarsest}
	}
	rank := map[int]int{}
	for r, i := range g.order {
		rank[i] = r
	}
	var masks []int
	for sub := 0; sub < 1<<len(others); sub++ {
		if sub == 1<<len(others)-1 && len(others) > 0 {
			continue
		}
		m := 1 << coarsest
		for b, i := range others {
			if sub&(1<<b) != 0 {
				m |= 1 << i
			}
		}
		masks = append(masks, m)
	}
	score := func(m int) (size, coarse int) {
		for i := range g.cols {
			if m&(1<<i) != 0 {
				size++
				coarse += rank[i]
			}
		}
		return
	}
	slices.SortStableFunc(masks, func(a, b int) int {
		sa, ca := score(a)
		sb, cb := score(b)
		if sa != sb {
			return sb - sa
		}
		return cb - ca
	})
	return masks
}

// keeps marks flow fi's values of every field but j as its own: no other
// flow is dealt them.
func (g *guard) keeps(fi, j int) {
	c := g.ci[int32(fi)]
	for i := range g.cols {
		if i != j {
			g.dealt[i][c] = true
		}
	}
}

// pool is the colliding flows (indices into collide) that share mask's
// fields, as generated, with flow fi.
func (g *guard) pool(j, mask, fi int) []int32 {
	m := g.pools[[2]int{j, mask}]
	if m == nil {
		m = map[string][]int32{}
		for c := range g.collide {
			k := string(g.origKey(nil, mask, c))
			m[k] = append(m[k], int32(c))
		}
		g.pools[[2]int{j, mask}] = m
	}
	return m[string(g.origKey(nil, mask, int(g.ci[int32(fi)])))]
}

// origKey appends colliding flow c's values of mask's fields as generated.
func (g *guard) origKey(dst []byte, mask, c int) []byte {
	for i := range g.cols {
		if mask&(1<<i) != 0 {
			dst = appendCell(dst, g.orig[i][c])
		}
	}
	return dst
}

func appendCell(dst []byte, c cell) []byte { return binary.LittleEndian.AppendUint64(dst, uint64(c)) }

// redraw tries each key field but the coarsest, most distinct first, and
// for each its pools, finest stratum first, then the flows of the same
// coarsest value, from a random position on, until free accepts the
// flow's first row with a value; it then writes the value to all the
// flow's rows. Otherwise the flow is left as it was.
func (g *guard) redraw(fi int, rng *rand.Rand, free func(row int) bool) bool {
	if len(g.order) < 2 {
		return false
	}
	rows := g.flows[fi]
	first := int(rows[0])
	set := func(j int, v cell) {
		for _, r := range rows {
			setCell(g.cols[j], int(r), v)
		}
	}
	if g.strata == nil {
		g.strata = map[cell][]int32{}
		for fi, rows := range g.flows {
			k := g.coarse(int(rows[0]))
			g.strata[k] = append(g.strata[k], int32(fi))
		}
	}
	members := g.strata[g.coarse(first)]
	for _, j := range g.order[:len(g.order)-1] {
		for _, mask := range g.masks[j] {
			pool := g.pool(j, mask, fi)
			value := func(i int) (cell, bool) { return g.orig[j][pool[i]], !g.dealt[j][pool[i]] }
			if i, ok := g.try(j, first, len(pool), value, rng, free); ok {
				set(j, g.orig[j][pool[i]])
				g.dealt[j][pool[i]] = true
				g.keeps(fi, j)
				return true
			}
		}
		value := func(i int) (cell, bool) { return getCell(g.cols[j], int(g.flows[members[i]][0])), true }
		if i, ok := g.try(j, first, len(members), value, rng, free); ok {
			v, _ := value(i)
			set(j, v)
			g.keeps(fi, j)
			return true
		}
	}
	return false
}

// try puts n candidate values of field j on row, from a random one on,
// skipping unavailable ones, the row's own and values already tried (at
// most maxRedraws), until free accepts one; it returns the candidate's
// index. The row is left as it was.
func (g *guard) try(j, row, n int, value func(int) (cell, bool), rng *rand.Rand, free func(row int) bool) (int, bool) {
	if n == 0 {
		return 0, false
	}
	col := g.cols[j]
	own := getCell(col, row)
	defer setCell(col, row, own)
	tried := map[cell]struct{}{own: {}}
	start := rng.IntN(n)
	for k := 0; k < n && len(tried) <= maxRedraws; k++ {
		i := (start + k) % n
		v, ok := value(i)
		if _, done := tried[v]; done || !ok {
			continue
		}
		tried[v] = struct{}{}
		setCell(col, row, v)
		if free(row) {
			return i, true
		}
	}
	return 0, false
}

// cell is one value of a key column: an integer or address as Int gives
// it, a float's bits, or a string's code.
type cell uint64

func getCell(c *abi.Column, r int) cell {
	switch {
	case c.Type == abi.TypeF64:
		return cell(math.Float64bits(c.F64[r]))
	case c.Type == abi.TypeString:
		return cell(c.Codes[r])
	case c.Type.IsInt():
		return cell(c.Int(r))
	}
	panic(fmt.Sprintf("copy guard: key column %s of type %v", c.Name, c.Type))
}

func setCell(c *abi.Column, r int, v cell) {
	switch {
	case c.Type == abi.TypeF64:
		c.F64[r] = math.Float64frombits(uint64(v))
	case c.Type == abi.TypeString:
		c.Codes[r] = uint32(v)
	case c.Type.IsInt():
		encoding.SetInt(c, r, int64(v))
	default:
		panic(fmt.Sprintf("copy guard: key column %s of type %v", c.Name, c.Type))
	}
}

// cloneColumn copies c's values, so that writing them leaves c alone.
func cloneColumn(c abi.Column) abi.Column {
	c.U8, c.U16, c.U32 = slices.Clone(c.U8), slices.Clone(c.U16), slices.Clone(c.U32)
	c.I64, c.F64, c.Codes = slices.Clone(c.I64), slices.Clone(c.F64), slices.Clone(c.Codes)
	return c
}

// dropFlowColumn returns b without its _flow column.
func dropFlowColumn(b *abi.Batch) *abi.Batch {
	fi := slices.IndexFunc(b.Columns, func(c abi.Column) bool { return c.Name == abi.FlowColumn })
	if fi < 0 {
		return b
	}
	out := *b
	out.Columns = slices.Delete(slices.Clone(b.Columns), fi, fi+1)
	return &out
}
