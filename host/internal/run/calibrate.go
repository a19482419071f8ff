package run

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/calibrate"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/tensor"
)

// calibrated is one output's calibration as choice.json records it: the
// total variation distance of its argmax shares from the training data's
// before and after.
type calibrated struct {
	Output string  `json:"output"`
	Before float64 `json:"before"`
	After  float64 `json:"after"`
}

func calibrationNotes(shifts []calibrate.Shift) []calibrated {
	var out []calibrated
	for _, s := range shifts {
		out = append(out, calibrated{Output: s.Name, Before: s.Before, After: s.After})
	}
	return out
}

// chunkShares are one chunk's training category shares, per discrete
// head of the attributes and of the features (calibrationHeads): what
// calibration matches generated rows to. They travel with the chunk's
// attributes (chunkAttributes), so a worker generating the chunk needs
// no training data.
type chunkShares struct {
	Attr, Feat [][]float64
	// First and Later are Feat over each flow's first record and over the
	// others (calibrateRecords).
	First, Later [][]float64
	// Pairs are the heads of which one decides the other over all the
	// records, with the pairs of categories they have (calibrate.Dependent):
	// read over all records, since a chunk's first records can hold a
	// dependence too few times to tell it from chance (CIC-DDoS: the two
	// responder RST-ACKs that open flows continued from the chunk before).
	Pairs []calibrate.Pair
	// FirstValues and LaterValues are the quantiles of the continuous
	// feature columns (valueColumns) over the same records
	// (calibrate.Quantiles).
	FirstValues, LaterValues [][][]float32
	// Appear is the flow tags' appearance heads over the flows that
	// start in the chunk (calibrateTags); nil with one chunk.
	Appear [][]float64
}

// valueColumns are the continuous feature columns calibration moves onto
// the training values (calibrate.Transport), each within the categories of
// its field's one softmax head if it has one (a mixed field's mode).
func (r *runner) valueColumns() []calibrate.Column {
	field := map[string]string{} // output name → its field
	for _, f := range r.state.Fields {
		for _, o := range f.Outputs {
			field[o.Name] = f.Name
		}
	}
	if t := r.state.Time; t != nil {
		for _, o := range t.IATOutputs {
			field[o.Name] = t.Name
		}
	}
	heads := map[string][]calibrate.Head{} // field → its softmax heads
	for _, h := range calibrate.Heads(r.state.FeatOutputs, nil) {
		heads[field[h.Name]] = append(heads[field[h.Name]], h)
	}
	var cols []calibrate.Column
	off := 0
	for _, o := range r.state.FeatOutputs {
		if o.Kind == tensor.Continuous {
			var cond *calibrate.Head
			if hs := heads[field[o.Name]]; len(hs) == 1 {
				cond = &hs[0]
			}
			for j := range o.Width {
				cols = append(cols, calibrate.Column{Name: o.Name, Col: off + j, Cond: cond})
			}
		}
		off += o.Width
	}
	return cols
}

// calibrationHeads are the discrete heads calibration matches: every
// softmax output but the flow tags, which place flows (chunk counts
// already fix how many go where).
func (r *runner) calibrationHeads() (attr, feat []calibrate.Head) {
	attr = calibrate.Heads(r.state.AttrOutputs, func(name string) bool { return strings.HasPrefix(name, "flow.") })
	return attr, calibrate.Heads(r.state.FeatOutputs, nil)
}

// sharesOf returns chunk k's shares: handed over with its attributes in
// a session that generates one chunk, else counted from its training
// data, attribute rows weighted as model m's training draws them (the
// generated rows follow that until Keep thins them), records unweighted
// (they are calibrated after thinning).
func (r *runner) sharesOf(k int, m *gan.Model) (*chunkShares, error) {
	if k < len(r.shares) && r.shares[k] != nil {
		return r.shares[k], nil
	}
	if r.local != nil || k < 0 || k >= len(r.sets) || r.sets[k] == nil {
		return nil, fmt.Errorf("chunk %d: no training category shares to calibrate to (model.calibrate)", k)
	}
	set := r.sets[k]
	attrHeads, featHeads := r.calibrationHeads()
	records := make([]float64, len(set.GenFlags))
	for i, f := range set.GenFlags {
		records[i] = float64(f)
	}
	sh := &chunkShares{
		Attr: calibrate.Shares(set.Attributes, tensor.Width(set.AttrOutputs), m.FlowWeights(set.GenFlags, set.N, set.L), attrHeads),
		Feat: calibrate.Shares(set.Features, tensor.Width(set.FeatOutputs), records, featHeads),
	}
	if tags := r.tagHeads(); len(tags) > 0 {
		sh.Appear = tagShares(set.Attributes, tensor.Width(set.AttrOutputs), tags)
	}
	first, later := splitFirst(records, set.L)
	sh.First = calibrate.Shares(set.Features, tensor.Width(set.FeatOutputs), first, featHeads)
	sh.Later = calibrate.Shares(set.Features, tensor.Width(set.FeatOutputs), later, featHeads)
	sh.Pairs = calibrate.Dependent(set.Features, tensor.Width(set.FeatOutputs), records, featHeads)
	cols := r.valueColumns()
	sh.FirstValues = calibrate.Quantiles(set.Features, tensor.Width(set.FeatOutputs), first, cols)
	sh.LaterValues = calibrate.Quantiles(set.Features, tensor.Width(set.FeatOutputs), later, cols)
	if len(r.shares) != len(r.sets) {
		r.shares = make([]*chunkShares, len(r.sets))
	}
	r.shares[k] = sh
	return sh, nil
}

// calibrateAttributes calibrates the discrete attributes of rows that
// chunk c's model m generated (soft and hard as GenerateAttributes returns
// them, hard rewritten) to the shares of chunk c's training flows.
func (r *runner) calibrateAttributes(m *gan.Model, c int, soft, hard []float32) ([]calibrate.Shift, error) {
	if !r.cfg.Calibrated() || len(soft) == 0 {
		return nil, nil
	}
	heads, _ := r.calibrationHeads()
	if len(heads) == 0 {
		return nil, nil
	}
	sh, err := r.sharesOf(c, m)
	if err != nil {
		return nil, err
	}
	A := m.AttrWidth()
	shifts := calibrate.Fit(soft, A, nil, heads, sh.Attr)
	calibrate.Apply(soft, hard, A, nil, shifts)
	return shifts, nil
}

// tagHeads are the flow tags as calibration heads: the start head, then
// one appearance head per chunk, as the encoding lays them out
// (flow.AppendTags); none with one chunk.
func (r *runner) tagHeads() []calibrate.Head {
	return calibrate.Heads(r.state.AttrOutputs, func(name string) bool { return !strings.HasPrefix(name, "flow.") })
}

// tagShares are each appearance head's shares over the rows of x (width
// w) that start in the chunk.
func tagShares(x []float32, w int, tags []calibrate.Head) [][]float64 {
	return calibrate.Shares(x, w, startWeights(x, w, tags[0]), tags[1:])
}

// startWeights is 1 for the rows of x (width w) whose head start (a
// two-way tag) says yes, else 0.
func startWeights(x []float32, w int, start calibrate.Head) []float64 {
	wt := make([]float64, len(x)/w)
	for r := range wt {
		if v := x[r*w+start.Off : r*w+start.Off+2]; v[0] < v[1] {
			wt[r] = 1
		}
	}
	return wt
}

// calibrateTags caps the flows that the rows chunk c's model m generated
// (soft and hard as GenerateAttributes returns them, both rewritten) copy
// into each later chunk at the share of chunk c's training flows that go
// on into it. A flow that spans chunks has its records generated in each
// of them (mergedAttributes), by NetShare's rule from each tag's own
// decision (flow.DecodeTags), and a short training copies flows where no
// real flow goes: on a spoofed SYN flood, where no real flow spans two
// chunks, a 2-minute model copied a few chunk-0 flows into chunks 5 s and
// 22 s later, and their second packets, that far after the first, put
// the flow IAT metric at 545× its noise floor (docs/encoders.md, "Flow
// tags").
func (r *runner) calibrateTags(m *gan.Model, c int, soft, hard []float32) ([]calibrate.Shift, error) {
	tags := r.tagHeads()
	if !r.cfg.Calibrated() || len(soft) == 0 || len(tags) == 0 {
		return nil, nil
	}
	sh, err := r.sharesOf(c, m)
	if err != nil {
		return nil, err
	}
	if sh.Appear == nil {
		return nil, nil
	}
	return capCopies(soft, hard, m.AttrWidth(), c, tags, sh.Appear), nil
}

// capCopies calibrates, over the rows of soft (width w; hard the same
// layout, or nil) that start in chunk c, each later chunk's appearance
// head whose share of rows appearing there is above appear's (the
// training flows starting in c) down to it: the flows kept there are
// those whose tag for it is surest. Shares below the training's stay, as
// does the start head: calibrating those too copied long-lived flows the
// model had not, and on CTU-Normal-40 its ICMP records went from 0.3% to
// 2.7% (docs/encoders.md, "Flow tags"). The heads of chunk c and
// earlier place nothing.
func capCopies(soft, hard []float32, w, c int, tags []calibrate.Head, appear [][]float64) []calibrate.Shift {
	// the rows flow.Placement keeps: they start in c and appear there
	starts := startWeights(soft, w, tags[0])
	for r, v := range startWeights(soft, w, tags[1+c]) {
		starts[r] *= v
	}
	gen := calibrate.Shares(soft, w, starts, tags[1:])
	target := make([][]float64, len(appear))
	for j := c + 1; j < len(appear); j++ {
		if appear[j] != nil && gen[j] != nil && gen[j][1] > appear[j][1] {
			target[j] = appear[j]
		}
	}
	shifts := calibrate.Fit(soft, w, starts, tags[1:], target)
	calibrate.Apply(soft, hard, w, starts, shifts)
	return shifts
}

// calibrateFeatures calibrates the discrete features of the records
// model m generated for chunk k (feats n×L×D with valid n×L, as
// GenerateFeatures returns them after thinning) to the shares of chunk
// k's training records. It returns the shifts and how many records took
// another combination of categories (calibrateRecords).
func (r *runner) calibrateFeatures(m *gan.Model, k int, feats, valid []float32) ([]calibrate.Shift, int, error) {
	if !r.cfg.Calibrated() || len(valid) == 0 {
		return nil, 0, nil
	}
	_, heads := r.calibrationHeads()
	cols := r.valueColumns()
	D := tensor.Width(r.state.FeatOutputs)
	if len(heads)+len(cols) == 0 || D == 0 {
		return nil, 0, nil
	}
	sh, err := r.sharesOf(k, m)
	if err != nil {
		return nil, 0, err
	}
	gen := make([]float64, len(valid))
	for i, v := range valid {
		gen[i] = float64(v)
	}
	shifts, moved := calibrateRecords(feats, D, m.MaxLen(), gen, heads, cols, sh)
	return shifts, moved, nil
}

// calibrateRecords calibrates the heads of records feats (width D, flows
// of L records, gen their weights) to sh: each flow's first record to the
// training data's first records, the others to the others. A flow's
// first record is where its handshake is: on CAIDA, 4.7% of the real
// flows open with a bare SYN, and a 2-minute model opened none with one
// though its packets' flag shares were calibrated, so the trace lacked
// its half-open connections (Zeek's S0) and the report said "far off"
// (docs/encoders.md, "First records"). Without First (a chunk's shares
// from before it) all records take Feat. The shifts returned measure all
// records against Feat. Heads of which one decides another in the
// training records then decode together into combinations those have
// (calibrate.ApplyPairs); moved counts the records that took another
// than their own. The continuous columns cols then move onto the training
// records' values of their place and mode (calibrate.Transport).
func calibrateRecords(feats []float32, D, L int, gen []float64, heads []calibrate.Head, cols []calibrate.Column, sh *chunkShares) (shifts []calibrate.Shift, moved int) {
	if sh.First == nil || L <= 1 {
		// one place: every record is a flow's first (L = 1), or the
		// shares predate the places (no pairs or quantiles either)
		shifts := calibrate.Fit(feats, D, gen, heads, sh.Feat)
		moved := calibrate.ApplyPairs(feats, nil, D, gen, heads, shifts, sh.Pairs)
		calibrate.Transport(feats, D, gen, cols, sh.FirstValues)
		return shifts, moved
	}
	first, later := splitFirst(gen, L)
	// A head's distance is the records' mean of its first records' from
	// the first shares and the others' from theirs: what each fit never
	// increases. Over all records together it can grow, where the
	// generated flows' share of first records differs from training's.
	nFirst, nLater := sum(first), sum(later)
	distance := func() []float64 {
		f, l := calibrate.Shares(feats, D, first, heads), calibrate.Shares(feats, D, later, heads)
		d := make([]float64, len(heads))
		for h := range heads {
			if f[h] != nil && sh.First[h] != nil {
				d[h] += nFirst * calibrate.Distance(f[h], sh.First[h])
			}
			if l[h] != nil && sh.Later[h] != nil {
				d[h] += nLater * calibrate.Distance(l[h], sh.Later[h])
			}
			d[h] /= nFirst + nLater
		}
		return d
	}
	before := distance()
	moved = calibrate.ApplyPairs(feats, nil, D, first, heads, calibrate.Fit(feats, D, first, heads, sh.First), sh.Pairs)
	moved += calibrate.ApplyPairs(feats, nil, D, later, heads, calibrate.Fit(feats, D, later, heads, sh.Later), sh.Pairs)
	calibrate.Transport(feats, D, first, cols, sh.FirstValues)
	calibrate.Transport(feats, D, later, cols, sh.LaterValues)
	after := distance()
	for h, hd := range heads {
		if sh.Feat[h] != nil && nFirst+nLater > 0 {
			shifts = append(shifts, calibrate.Shift{Head: hd, Before: before[h], After: after[h]})
		}
	}
	return shifts, moved
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

// splitFirst splits record weights w (flows of L records) into those of
// each flow's first record and those of the others.
func splitFirst(w []float64, L int) (first, later []float64) {
	first, later = make([]float64, len(w)), make([]float64, len(w))
	for i, v := range w {
		if i%L == 0 {
			first[i] = v
		} else {
			later[i] = v
		}
	}
	return first, later
}

// reportCalibration prints, for the chunks' choices, how many outputs
// were calibrated and the one that was furthest from its shares.
func (r *runner) reportCalibration(choices []chunkChoice) {
	n, moved, records := 0, 0, 0 // outputs calibrated, records recombined
	var worst calibrated
	for _, ch := range choices {
		moved += ch.Recombined
		records += ch.Records
		for _, c := range ch.Calibration {
			n++
			if c.Before > worst.Before {
				worst = c
			}
		}
	}
	if n > 0 {
		fmt.Fprintf(r.out, "generate calibrated %d discrete outputs to the training data's category shares (model.calibrate); the furthest, %s, from a distance of %.3g to %.3g\n", n, worst.Output, worst.Before, worst.After)
	}
	if moved > 0 {
		fmt.Fprintf(r.out, "generate decoded %d of %d records' dependent discrete features (one decides another in the training records) into a combination those have (model.calibrate)\n", moved, records)
	}
}

// regrouped is what regroupAddresses did to one column.
type regrouped struct {
	Column          string
	Flows, Before   int // generated flows on values no training flow has, and those values
	After, Training int // the values after, and the training values not generated
}

// regroupAddresses gives the generated addresses of parts that no
// training flow has (ip-bits' bits spell one per flow) the training
// data's profile of flows per address (calibrate.Regroup), for each
// attribute column of type ipv4. The profile is read over the training
// addresses the synthetic trace does not reproduce: those the generator
// spells rather than picks. A flow spanning chunks has its key in each
// part and counts once. Like the category shares, the profile is read
// from the private data: it runs only where calibration does.
func (r *runner) regroupAddresses(parts []*abi.Batch) []regrouped {
	if !r.cfg.Calibrated() || r.records == nil || r.state == nil {
		return nil
	}
	var notes []regrouped
	for _, f := range r.state.Fields {
		c := r.records.Column(f.Name)
		if f.Role != abi.RoleAttribute || c == nil || c.Type != abi.TypeIPv4 {
			continue
		}
		train := flowIndex([]*abi.Batch{r.records}, f.Name, r.cfg.Flows.Key)
		gen := flowIndex(parts, f.Name, r.cfg.Flows.Key)
		var units []calibrate.Unit
		for v, flows := range gen {
			if _, ok := train[v]; !ok {
				units = append(units, calibrate.Unit{Value: uint64(v), Flows: len(flows)})
			}
		}
		bars := map[int]int{}
		for v, flows := range train {
			if _, ok := gen[v]; !ok {
				bars[len(flows)]++
			}
		}
		if len(units) == 0 || len(bars) == 0 {
			continue
		}
		var profile []calibrate.Count
		note := regrouped{Column: f.Name, Before: len(units)}
		for n, values := range bars {
			profile = append(profile, calibrate.Count{Flows: n, Values: values})
			note.Training += values
		}
		slices.SortFunc(profile, func(a, b calibrate.Count) int { return a.Flows - b.Flows })
		slices.SortFunc(units, func(a, b calibrate.Unit) int { return cmp.Compare(a.Value, b.Value) })
		for _, u := range units {
			note.Flows += u.Flows
		}
		// A fresh address: the nearest one no training or generated flow
		// holds, nor one handed out before.
		issued := map[uint32]bool{}
		free := func(v int64) bool {
			if v < 0 || v > math.MaxUint32 {
				return false
			}
			_, t := train[uint32(v)]
			_, g := gen[uint32(v)]
			return !t && !g && !issued[uint32(v)]
		}
		fresh := func(near uint64) uint64 {
			for d := int64(1); d <= math.MaxUint32; d++ {
				for _, v := range []int64{int64(near) + d, int64(near) - d} {
					if free(v) {
						issued[uint32(v)] = true
						return uint64(v)
					}
				}
			}
			return near
		}
		rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), 0x72656772<<8|uint64(len(notes))))
		moved := calibrate.Regroup(units, profile, rng, fresh)
		after := map[uint64]bool{}
		for _, u := range units {
			if vals, ok := moved[u.Value]; ok {
				for _, v := range vals {
					after[v] = true
				}
			} else {
				after[u.Value] = true
			}
		}
		note.After = len(after)
		notes = append(notes, note)
		if len(moved) == 0 {
			continue
		}
		buf := make([]byte, 0, 64)
		for k, p := range parts {
			if p == nil || p.Column(f.Name) == nil {
				continue
			}
			appendKey := flowKeyer(p, r.cfg.Flows.Key)
			b := &abi.Batch{Columns: slices.Clone(p.Columns)}
			for i := range b.Columns {
				col := &b.Columns[i]
				if col.Name != f.Name {
					continue
				}
				old := p.Column(f.Name).U32
				*col = cloneColumn(*col)
				for j, v := range old {
					vals, ok := moved[uint64(v)]
					if !ok {
						continue
					}
					at := 0
					if len(vals) > 1 {
						// the key is read from p, whose columns are as generated
						buf = binary.LittleEndian.AppendUint32(appendKey(buf[:0], j), v)
						at = gen[v][string(buf)]
					}
					col.U32[j] = uint32(vals[at])
				}
			}
			parts[k] = b
		}
	}
	return notes
}

// flowIndex numbers, for each value of column name (ipv4) in bs, the
// distinct flow keys that hold it, in the order they first appear.
func flowIndex(bs []*abi.Batch, name string, key []string) map[uint32]map[string]int {
	out := map[uint32]map[string]int{}
	buf := make([]byte, 0, 64)
	for _, b := range bs {
		if b == nil || b.Column(name) == nil {
			continue
		}
		appendKey := flowKeyer(b, key)
		for i, v := range b.Column(name).U32 {
			buf = binary.LittleEndian.AppendUint32(appendKey(buf[:0], i), v)
			m := out[v]
			if m == nil {
				m = map[string]int{}
				out[v] = m
			}
			if _, ok := m[string(buf)]; !ok {
				m[string(buf)] = len(m)
			}
		}
	}
	return out
}

// reportRegrouped prints what regroupAddresses did.
func (r *runner) reportRegrouped(notes []regrouped) {
	for _, n := range notes {
		fmt.Fprintf(r.out, "generate regrouped %s: %d flows on %d addresses no training flow has now share %d, as the training data's %d addresses the synthetic trace does not reproduce share their flows (model.calibrate)\n",
			n.Column, n.Flows, n.Before, n.After, n.Training)
	}
}
