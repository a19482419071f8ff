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
	first, later := splitFirst(records, set.L)
	sh.First = calibrate.Shares(set.Features, tensor.Width(set.FeatOutputs), first, featHeads)
	sh.Later = calibrate.Shares(set.Features, tensor.Width(set.FeatOutputs), later, featHeads)
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

// calibrateFeatures calibrates the discrete features of the records
// model m generated for chunk k (feats n×L×D with valid n×L, as
// GenerateFeatures returns them after thinning) to the shares of chunk
// k's training records.
func (r *runner) calibrateFeatures(m *gan.Model, k int, feats, valid []float32) ([]calibrate.Shift, error) {
	if !r.cfg.Calibrated() || len(valid) == 0 {
		return nil, nil
	}
	_, heads := r.calibrationHeads()
	D := tensor.Width(r.state.FeatOutputs)
	if len(heads) == 0 || D == 0 {
		return nil, nil
	}
	sh, err := r.sharesOf(k, m)
	if err != nil {
		return nil, err
	}
	gen := make([]float64, len(valid))
	for i, v := range valid {
		gen[i] = float64(v)
	}
	return calibrateRecords(feats, D, m.MaxLen(), gen, heads, sh), nil
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
// records against Feat.
func calibrateRecords(feats []float32, D, L int, gen []float64, heads []calibrate.Head, sh *chunkShares) []calibrate.Shift {
	if sh.First == nil || L <= 1 {
		shifts := calibrate.Fit(feats, D, gen, heads, sh.Feat)
		calibrate.Apply(feats, nil, D, gen, shifts)
		return shifts
	}
	before := calibrate.Shares(feats, D, gen, heads)
	first, later := splitFirst(gen, L)
	calibrate.Apply(feats, nil, D, first, calibrate.Fit(feats, D, first, heads, sh.First))
	calibrate.Apply(feats, nil, D, later, calibrate.Fit(feats, D, later, heads, sh.Later))
	after := calibrate.Shares(feats, D, gen, heads)
	var shifts []calibrate.Shift
	for h, hd := range heads {
		if sh.Feat[h] != nil && before[h] != nil {
			shifts = append(shifts, calibrate.Shift{Head: hd, Before: calibrate.Distance(before[h], sh.Feat[h]), After: calibrate.Distance(after[h], sh.Feat[h])})
		}
	}
	return shifts
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
	n := 0
	var worst calibrated
	for _, ch := range choices {
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
