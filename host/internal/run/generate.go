package run

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/calibrate"
	"github.com/netshare/netshare/host/internal/encoding"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/gan"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/tensor"
	"github.com/netshare/netshare/host/internal/trace"
)

// chunkChoice records which checkpoint generated each chunk.
type chunkChoice struct {
	Chunk       int       `json:"chunk"`
	Flows       int       `json:"flows"`
	Records     int       `json:"records"`
	Checkpoints []string  `json:"checkpoints"`
	Chosen      string    `json:"chosen"`
	RankSums    []float64 `json:"rank_sums,omitempty"`
	// Criterion is what the choice minimised per checkpoint (mean log
	// score plus copy penalty: score.ChooseByScores).
	Criterion   []float64 `json:"criterion,omitempty"`
	CopyPenalty []float64 `json:"copy_penalty,omitempty"`
	// Copies counts the generated flows whose key was a training flow's;
	// CopiesRedrawn the flows (copies, or sharing a key with an earlier
	// synthetic flow) given a key of their own by redrawing one key
	// field, and CopiesDropped those dropped instead (guardFlows).
	Copies        int                  `json:"copies"`
	CopiesRedrawn int                  `json:"copies_redrawn"`
	CopiesDropped int                  `json:"copies_dropped"`
	Scores        []map[string]float64 `json:"scores,omitempty"`
	// Calibration is, per discrete output of the chosen candidate, how
	// far its category shares were from the training data's before and
	// after calibration (model.calibrate).
	Calibration []calibrated `json:"calibration,omitempty"`
	// Recombined counts the records whose dependent discrete features
	// calibration decoded into a combination the training records have
	// instead of their own (calibrate.ApplyPairs).
	Recombined int `json:"recombined,omitempty"`
}

// generateKey is the generate stage's key: the training, the metrics
// that choose checkpoints, the copy guard, session completion and
// calibration.
func (r *runner) generateKey() string {
	return newKey("generate").str("train", r.keys["train"]).json("metrics", r.cfg.Metrics).str("copies", r.cfg.Privacy.CopyGuard()).json("sessions", r.cfg.CompleteSessions()).json("calibrate", r.cfg.Calibrated()).sum()
}

// chunkPartFile and chunkChoiceFile are where generating chunk k leaves
// its records (before the copy guard and the span cut, which the merge
// applies) and its checkpoint choice: a worker generates a chunk
// (Session.GenerateChunk), the generate stage merges.
func chunkPartFile(k int) string { return filepath.Join("generated", fmt.Sprintf("chunk-%d.bin", k)) }
func chunkChoiceFile(k int) string {
	return filepath.Join("generated", fmt.Sprintf("chunk-%d.json", k))
}

// chunkGenerated is what generating one chunk records beside its records.
type chunkGenerated struct {
	// Key is the generate stage's key the chunk was generated under: a
	// part left by another training or metric list is not used.
	Key    string      `json:"key"`
	Choice chunkChoice `json:"choice"`
}

// generate merges the chunks' generated records: each chunk that a worker
// generated already (Session.GenerateChunk, under this stage's key) is
// read back, the others are generated here, with the same functions and
// seeds, so the result does not depend on where a chunk was generated.
func (r *runner) generate(ctx context.Context) (bool, error) {
	key := r.generateKey()
	r.keys["generate"] = key
	genPath := filepath.Join(r.dir, "generated", "records.bin")
	choicePath := filepath.Join(r.dir, "generated", "choice.json")
	if r.stages.fresh("generate", key, genPath, choicePath) {
		b, err := loadBatch(genPath)
		if err != nil {
			return false, err
		}
		r.synthetic = b
		return true, nil
	}
	r.stages.forget("generate")
	n := len(r.sets)
	parts := make([]*abi.Batch, n)
	choices := make([]*chunkChoice, n)
	missing := false
	for k := range r.sets {
		if r.sets[k] == nil {
			continue
		}
		if parts[k], choices[k] = r.loadChunkPart(k, key); parts[k] == nil {
			missing = true
		}
	}
	if missing {
		g, err := r.openGenerator(ctx)
		if err != nil {
			return false, err
		}
		defer g.close()
		for k := range r.sets {
			if r.sets[k] == nil || parts[k] != nil {
				continue
			}
			if parts[k], choices[k], err = g.chunk(ctx, k); err != nil {
				return false, fmt.Errorf("chunk %d: %w", k, err)
			}
			r.generatedHere++
		}
	}
	return false, r.mergeChunks(parts, choices, genPath, choicePath)
}

// loadChunkPart reads chunk k's part as a worker left it, or returns nil
// when there is none for key.
func (r *runner) loadChunkPart(k int, key string) (*abi.Batch, *chunkChoice) {
	raw, err := os.ReadFile(filepath.Join(r.dir, chunkChoiceFile(k)))
	if err != nil {
		return nil, nil
	}
	var g chunkGenerated
	if json.Unmarshal(raw, &g) != nil || g.Key != key {
		return nil, nil
	}
	b, err := loadBatch(filepath.Join(r.dir, chunkPartFile(k)))
	if err != nil {
		return nil, nil
	}
	return b, &g.Choice
}

// generator generates chunks: the flows' attributes of every chunk (a
// chunk's flows come from its own model and earlier chunks' models, by
// the flow tags), each chunk's checkpoints and real records, the decoder,
// and what checkpoint choice scores with.
type generator struct {
	r       *runner
	attrs   [][]float32 // by chunk index
	ckpts   [][]string
	real    func(k int) (*abi.Batch, error)
	codec   *encoding.Codec
	close   func()
	metrics []score.Metric
	margs   []marginal
	// released is the flows the released histograms count.
	released int
}

// attributes loads every chunk's final checkpoint and generates and
// places the flows' attributes; it returns them with each chunk's
// checkpoints.
func (r *runner) attributes() ([][]float32, [][]string, error) {
	dirs := r.trainDirs()
	n := len(r.sets)
	last := make([]*gan.Model, n)
	ckpts := make([][]string, n)
	for k, d := range dirs {
		if d == "" {
			continue
		}
		paths, err := gan.Checkpoints(d)
		if err != nil {
			return nil, nil, err
		}
		if len(paths) == 0 {
			return nil, nil, fmt.Errorf("chunk %d: no checkpoint in %s", k, d)
		}
		ckpts[k] = paths
		if last[k], err = gan.Load(paths[len(paths)-1]); err != nil {
			return nil, nil, fmt.Errorf("chunk %d: %w", k, err)
		}
	}
	attrs, err := r.mergedAttributes(last)
	return attrs, ckpts, err
}

// openGenerator opens a generator over the whole run.
func (r *runner) openGenerator(ctx context.Context) (*generator, error) {
	attrs, ckpts, err := r.attributes()
	if err != nil {
		return nil, err
	}
	return r.newGenerator(ctx, attrs, ckpts, func(k int) (*abi.Batch, error) { return r.chunkRecords(k), nil })
}

// chunkAttributes is one chunk's generated attributes as a file.
type chunkAttributes struct {
	// Key is the generate stage's key they were generated under.
	Key   string
	Attrs []float32
	// Calibration is the attributes' calibration, for the chunk's
	// checkpoint choice, and Shares the training category shares that
	// generating the chunk calibrates to (nil without model.calibrate).
	Calibration []calibrated
	Shares      *chunkShares
}

// localGenerator opens a generator for the one chunk a session opened
// with OpenGenerate holds, from the files of that chunk alone.
func (r *runner) localGenerator(ctx context.Context, key string) (*generator, error) {
	l := r.local
	path := filepath.Join(r.dir, filepath.FromSlash(AttributesFile(l.k)))
	var ca chunkAttributes
	err := readGob(path, &ca)
	if err == nil && ca.Key != key {
		err = fmt.Errorf("%s was generated by another training or metric list", path)
	}
	if err != nil {
		return nil, fmt.Errorf("the chunk's attributes (generated after training): %w", err)
	}
	ckpts, err := gan.Checkpoints(filepath.Join(r.dir, filepath.FromSlash(TrainDir(l.pos))))
	if err != nil {
		return nil, err
	}
	attrs := make([][]float32, r.state.NChunks)
	all := make([][]string, r.state.NChunks)
	attrs[l.k], all[l.k] = ca.Attrs, ckpts
	r.attrCalibration = make([][]calibrated, r.state.NChunks)
	r.attrCalibration[l.k] = ca.Calibration
	r.shares = make([]*chunkShares, r.state.NChunks)
	r.shares[l.k] = ca.Shares
	return r.newGenerator(ctx, attrs, all, func(k int) (*abi.Batch, error) {
		return loadBatch(filepath.Join(r.dir, filepath.FromSlash(ChunkRecordsFile(k))))
	})
}

func (r *runner) newGenerator(ctx context.Context, attrs [][]float32, ckpts [][]string, real func(int) (*abi.Batch, error)) (*generator, error) {
	g := &generator{r: r, attrs: attrs, ckpts: ckpts, real: real}
	var err error
	if g.codec, g.close, err = r.openDecoder(ctx, attrs); err != nil {
		return nil, err
	}
	if len(r.cfg.Privacy.Marginals) > 0 {
		b, err := loadBudget(r.dir)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("privacy: the released histograms: %w", err)
		}
		g.margs = b.Marginals
		for _, n := range b.Counts {
			g.released += n
		}
	}
	return g, nil
}

// chunk generates chunk k from each of its checkpoints, keeps the one the
// metrics rank best against the real chunk (the last one under privacy),
// imposes the released marginals and returns its records, still with
// their flow column.
func (g *generator) chunk(ctx context.Context, k int) (*abi.Batch, *chunkChoice, error) {
	r := g.r
	ch := &chunkChoice{Chunk: k, Checkpoints: g.ckpts[k]}
	if len(g.attrs[k]) == 0 {
		return &abi.Batch{}, ch, nil
	}
	real, err := g.real(k)
	if err != nil {
		return nil, nil, err
	}
	var cands []*abi.Batch
	var shifts [][]calibrate.Shift
	var moved []int
	for i, p := range g.ckpts[k] {
		r.line.Update("generate chunk %d/%d: checkpoint %d/%d", k+1, len(g.attrs), i+1, len(g.ckpts[k]))
		m, err := gan.Load(p)
		if err != nil {
			return nil, nil, err
		}
		// the rows are the model's, length bins included
		ch.Flows = len(g.attrs[k]) / m.AttrWidth()
		b, sh, mv, err := r.generateChunk(ctx, g.codec, m, k, g.attrs[k])
		if err != nil {
			return nil, nil, err
		}
		cands = append(cands, b)
		shifts = append(shifts, sh)
		moved = append(moved, mv)
	}
	best := len(cands) - 1
	// Choosing by scores against the real chunk would spend privacy
	// the accountant does not count: a DP run keeps the last one.
	if len(cands) > 1 && !r.cfg.Privacy.Enabled {
		if g.metrics == nil {
			// With the audit: its exact-copy rates penalise candidates
			// that copy training flow keys (score.ChooseBest).
			ms, err := r.metricList(sharedColumns(real, cands[0]))
			if err != nil {
				return nil, nil, err
			}
			g.metrics = ms
		}
		shared := sharedColumns(real, cands[0])
		ms := slices.DeleteFunc(slices.Clone(g.metrics), func(m score.Metric) bool { return !score.Scorable(m, shared) })
		choice, results, err := score.ChooseBest(ctx, r.host, shared, cands, ms, score.Options{Seed: r.cfg.Seed})
		if err != nil {
			return nil, nil, fmt.Errorf("choosing a checkpoint: %w", err)
		}
		best, ch.RankSums, ch.Criterion, ch.CopyPenalty = choice.Best, choice.RankSums, choice.Criterion, choice.CopyPenalty
		for _, res := range results {
			ch.Scores = append(ch.Scores, res.Values())
		}
	}
	ch.Chosen = g.ckpts[k][best]
	if k < len(r.attrCalibration) {
		ch.Calibration = slices.Clone(r.attrCalibration[k])
	}
	ch.Calibration = append(ch.Calibration, calibrationNotes(shifts[best])...)
	ch.Recombined = moved[best]
	return r.imposeMarginals(cands[best], k, g.margs, g.released), ch, nil
}

// mergeChunks gives each generated flow a key of its own that copies no
// training flow's (guardFlows), cuts each chunk's records to its span,
// joins the chunks in time order and writes the synthetic records and the
// checkpoint choices.
func (r *runner) mergeChunks(parts []*abi.Batch, chosen []*chunkChoice, genPath, choicePath string) error {
	var realKeys map[string]struct{}
	guard := r.cfg.Privacy.CopyGuard()
	if guard != "keep" {
		realKeys = flowKeys(r.records, r.cfg.Flows.Key)
	}
	// Before the guard, which gives flows that regrouping makes share a
	// key keys of their own.
	regroups := r.regroupAddresses(parts)
	var total guardStats
	var kept []*abi.Batch
	var choices []chunkChoice
	last := len(parts) - 1
	for last > 0 && (parts[last] == nil || chosen[last] == nil || chosen[last].Flows == 0) {
		last--
	}
	for k, p := range parts {
		if p == nil || chosen[k] == nil || chosen[k].Flows == 0 {
			continue
		}
		ch := *chosen[k]
		lo, hi := r.chunkSpan(k, r.chunkRecords(k))
		if k == last {
			p = fitToEnd(p, lo, hi)
		}
		rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), 0x636f7079<<8|uint64(k)))
		guarded, st := guardFlows(p, r.cfg.Flows.Key, realKeys, guard == "redraw", rng)
		part := truncateToSpan(guarded, lo, hi)
		ch.Records, ch.Copies, ch.CopiesRedrawn, ch.CopiesDropped = part.Len(), st.Copies, st.Redrawn, st.Dropped
		total.Copies += st.Copies
		total.Shared += st.Shared
		total.Redrawn += st.Redrawn
		total.Dropped += st.Dropped
		kept = append(kept, part)
		choices = append(choices, ch)
	}
	if total.Copies+total.Shared > 0 {
		fmt.Fprintf(r.out, "generate: %d synthetic flows had a training flow's key (privacy.copies = %q) and %d another synthetic flow's; %d got a key field redrawn, %d were dropped\n", total.Copies, guard, total.Shared, total.Redrawn, total.Dropped)
	}
	r.reportCalibration(choices)
	r.reportRegrouped(regroups)
	syn, err := concatByTime(kept)
	if err != nil {
		return err
	}
	// Bidirectional flows: each record back in the direction it was
	// generated in.
	if syn, err = flow.Unorient(syn); err != nil {
		return err
	}
	// Conversations (bidirectional flows) get the handshakes and
	// teardowns the real trace has, as often as it has them.
	if r.records.Column(flow.DirColumn) != nil && r.cfg.CompleteSessions() {
		real, err := flow.Unorient(r.records)
		if err != nil {
			return err
		}
		var fx sessionFixes
		if syn, fx, err = completeSessions(real, syn, uint64(r.cfg.Seed)); err != nil {
			return err
		}
		if fx.Handshakes+fx.Teardowns+fx.Dropped > 0 {
			fmt.Fprintf(r.out, "generate completed TCP sessions of %d two-way conversations: %d handshakes, %d teardowns, %d one-way conversations dropped, to the real trace's rates (flows.sessions)\n",
				fx.Conversations, fx.Handshakes, fx.Teardowns, fx.Dropped)
		}
	}
	if syn.Len() == 0 {
		return fmt.Errorf("the model generated no records: train longer (model.steps)")
	}
	if err := saveBatch(genPath, syn); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(choices, "", "  ")
	if err := atomicfile.WriteBytes(choicePath, b); err != nil {
		return err
	}
	r.synthetic = syn
	return r.stages.done("generate", r.keys["generate"])
}

// mergedAttributes generates each chunk's flows from its model and places
// them as NetShare does (docs/encoders.md, flow tags): a flow is kept by the chunk that
// generated it if it starts there, and copied into every later chunk it
// appears in with its start bit cleared. Each chunk then generates the
// records of exactly the flows placed in it.
func (r *runner) mergedAttributes(models []*gan.Model) ([][]float32, error) {
	n := len(r.sets)
	out := make([][]float32, n)
	r.attrCalibration = make([][]calibrated, n)
	counts, err := r.flowCounts()
	if err != nil {
		return nil, err
	}
	tagOff, tagW := r.tagLayout()
	for c, m := range models {
		if m == nil {
			continue
		}
		A := m.AttrWidth()
		rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), uint64(2*c+1)))
		if n <= 1 || tagW == 0 {
			// A length-weighted model's flows are thinned after their
			// records are generated (generateChunk): draw more.
			soft, hard := m.GenerateAttributes(m.Oversample(counts[c]), rng)
			sh, err := r.calibrateAttributes(m, c, soft, hard)
			if err != nil {
				return nil, err
			}
			r.attrCalibration[c] = calibrationNotes(sh)
			out[c] = append(out[c], hard...)
			continue
		}
		soft, hard := m.GenerateAttributes(counts[c], rng)
		sh, err := r.calibrateAttributes(m, c, soft, hard)
		if err != nil {
			return nil, err
		}
		tsh, err := r.calibrateTags(m, c, soft, hard)
		if err != nil {
			return nil, err
		}
		r.attrCalibration[c] = calibrationNotes(append(sh, tsh...))
		for i := 0; i < counts[c]; i++ {
			starts, appears, err := flow.DecodeTags(soft[i*A+tagOff:i*A+tagOff+tagW], n)
			if err != nil {
				return nil, err
			}
			keep, copies := flow.Placement(c, starts, appears)
			if !keep {
				continue
			}
			row := hard[i*A : (i+1)*A]
			out[c] = append(out[c], row...)
			for _, j := range copies {
				if models[j] == nil {
					continue
				}
				cp := slices.Clone(row)
				cp[tagOff], cp[tagOff+1] = 1, 0 // does not start in chunk j
				out[j] = append(out[j], cp...)
			}
		}
	}
	return out, nil
}

// tagLayout finds the flow tags in the attribute vector.
func (r *runner) tagLayout() (off, width int) {
	tags := r.tagHeads()
	if len(tags) == 0 {
		return 0, 0
	}
	return tags[0].Off, flow.TagWidth(r.state.NChunks)
}

// generateChunk draws chunk k's records for the given attribute rows.
// Its discrete features are calibrated after thinning (calibrateFeatures),
// whose shifts and recombined records it returns.
func (r *runner) generateChunk(ctx context.Context, codec *encoding.Codec, m *gan.Model, k int, attrs []float32) (*abi.Batch, []calibrate.Shift, int, error) {
	rng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), uint64(2*k+2)))
	feats, valid, err := m.GenerateFeatures(attrs, rng)
	if err != nil {
		return nil, nil, 0, err
	}
	A := m.AttrWidth()
	if m.LengthWeighted() {
		if attrs, feats, valid, err = r.thin(m, k, attrs, feats, valid, rng); err != nil {
			return nil, nil, 0, err
		}
	}
	shifts, moved, err := r.calibrateFeatures(m, k, feats, valid)
	if err != nil {
		return nil, nil, 0, err
	}
	set := &tensor.Set{N: len(attrs) / A, L: m.MaxLen(), Attributes: m.EncoderAttributes(attrs), Features: feats, GenFlags: valid,
		AttrOutputs: r.state.AttrOutputs, FeatOutputs: r.state.FeatOutputs}
	b, err := codec.Decode(ctx, set, k)
	return b, shifts, moved, err
}

// thin keeps the generated flows of a length-weighted model that undo the
// weighting (gan.Model.Keep), as many as chunk k has. A checkpoint whose
// lengths are still far from the training data's (an early one, a short
// budget) keeps fewer: it then draws more flows until the chunk has its
// count, for at most 20 more rounds.
func (r *runner) thin(m *gan.Model, k int, attrs, feats, valid []float32, rng *rand.Rand) (a, f, v []float32, err error) {
	counts, err := r.flowCounts()
	if err != nil {
		return nil, nil, nil, err
	}
	want, A := counts[k], m.AttrWidth()
	n := len(attrs) / A
	if n == 0 {
		return attrs, feats, valid, nil
	}
	fw, vw := len(feats)/n, len(valid)/n
	keepRng := rand.New(rand.NewPCG(uint64(r.cfg.Seed), 0x6b656570<<8|uint64(k)))
	for round := 0; round <= 20 && len(a)/A < want; round++ {
		if round > 0 {
			var soft []float32
			soft, attrs = m.GenerateAttributes(m.Oversample(want-len(a)/A), rng)
			if _, err := r.calibrateAttributes(m, k, soft, attrs); err != nil {
				return nil, nil, nil, err
			}
			if feats, valid, err = m.GenerateFeatures(attrs, rng); err != nil {
				return nil, nil, nil, err
			}
		}
		keep := m.Keep(valid, want-len(a)/A, keepRng)
		if len(keep) == 0 && round > 0 {
			break
		}
		a = append(a, takeFlows(keep, attrs, A)...)
		f = append(f, takeFlows(keep, feats, fw)...)
		v = append(v, takeFlows(keep, valid, vw)...)
	}
	return a, f, v, nil
}

// takeFlows returns the rows of x (w values each) listed in rows.
func takeFlows(rows []int, x []float32, w int) []float32 {
	out := make([]float32, 0, len(rows)*w)
	for _, j := range rows {
		out = append(out, x[j*w:(j+1)*w]...)
	}
	return out
}

// decodeLaneFlows is the number of flows in the largest chunk that makes
// each extra decode lane worth its start-up (a host of its own that loads
// every encoder's state: about a second for a 64k-port vocabulary).
var decodeLaneFlows = 4096

// maxDecodeLanes bounds the lanes: each holds a copy of the encoders'
// state in its own module instance.
const maxDecodeLanes = 8

// openDecoder opens the codec generation decodes with: on the run's host,
// plus, when chunks are large, lanes on hosts of their own (up to
// model.workers), since decoding generated word2vec vectors is an exact
// nearest-neighbour search that one module instance runs on one core.
func (r *runner) openDecoder(ctx context.Context, attrs [][]float32) (*encoding.Codec, func(), error) {
	most := 0
	for _, a := range attrs {
		most = max(most, len(a)/tensor.Width(r.state.AttrOutputs))
	}
	workers := r.cfg.Model.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	lanes := max(1, min(workers, maxDecodeLanes, most/decodeLaneFlows))
	rts := []encoding.Runtime{encoding.FromPlugin(r.host)}
	var hosts []*plugin.Host
	closeHosts := func() {
		for _, h := range hosts {
			h.Close(ctx)
		}
	}
	for len(rts) < lanes {
		h, err := plugin.NewHost(ctx, PluginOptions(r.cfg))
		if err != nil {
			closeHosts()
			return nil, nil, fmt.Errorf("decode lane %d: %w", len(rts), err)
		}
		hosts = append(hosts, h)
		rts = append(rts, encoding.FromPlugin(h))
	}
	codec, err := encoding.OpenLanes(ctx, rts, r.state)
	if err != nil {
		closeHosts()
		return nil, nil, err
	}
	r.decodeLanes = lanes
	return codec, func() { codec.Close(ctx); closeHosts() }, nil
}

// chunkRecords are the real records of chunk k, in time order.
func (r *runner) chunkRecords(k int) *abi.Batch {
	var rows []int32
	for _, f := range r.flows.Chunks[k].Flows {
		rows = append(rows, f.Rows...)
	}
	slices.Sort(rows)
	return r.records.Take(rows)
}

// flowKeyer appends row i's flow key: the values of b's key columns, or
// with bidirectional flows (a direction column) the conversation, the
// unordered endpoint pair, so that flows generated from either end of one
// pair are one flow.
func flowKeyer(b *abi.Batch, key []string) func(dst []byte, i int) []byte {
	if b.Column(flow.DirColumn) != nil {
		if pk, err := flow.NewPairKeyer(b); err == nil {
			return pk.Key
		}
	}
	cols := make([]*abi.Column, 0, len(key))
	for _, k := range key {
		if c := b.Column(k); c != nil {
			cols = append(cols, c)
		}
	}
	return func(dst []byte, i int) []byte { return abi.AppendKey(dst, cols, i) }
}

// flowRows lists each flow's rows, by the flow column fc, in order of the
// flows' first rows.
func flowRows(fc *abi.Column) [][]int32 {
	var flows [][]int32
	index := map[uint32]int{}
	for i, f := range fc.U32 {
		k, ok := index[f]
		if !ok {
			k = len(flows)
			index[f] = k
			flows = append(flows, nil)
		}
		flows[k] = append(flows[k], int32(i))
	}
	return flows
}

// flowKeys is the set of b's flow keys.
func flowKeys(b *abi.Batch, key []string) map[string]struct{} {
	appendKey := flowKeyer(b, key)
	out := map[string]struct{}{}
	buf := make([]byte, 0, 64)
	for i := 0; i < b.Len(); i++ {
		buf = appendKey(buf[:0], i)
		out[string(buf)] = struct{}{}
	}
	return out
}

// chunkSpan is the time range chunk k's synthetic records must fall in:
// the real chunk's first and last record, as NetShare truncates, or under
// privacy the chunk's boundaries, which do not depend on single records
// inside it.
func (r *runner) chunkSpan(k int, real *abi.Batch) (lo, hi int64) {
	c := r.flows.Chunks[k]
	lo, hi = int64(math.Floor(c.Start)), int64(math.Ceil(c.End))
	if rts := real.Column("ts"); rts != nil && real.Len() > 0 && !r.cfg.Privacy.Enabled {
		lo, hi = slices.Min(rts.I64), slices.Max(rts.I64)
	}
	return lo, hi
}

// fitToEnd moves each flow of b (by its flow column) whose records run
// past hi, the end of the trace, back so that its last record is at hi,
// or its first at lo (the chunk's start) where the flow is longer. A real
// trace holds its flows within its span; a generated flow that overruns
// it does so because its start and duration do not quite go together,
// and cutting it at hi would shorten exactly the long flows (CAIDA 10k,
// 37 min: 18% of the generated packets). What still lies past hi is cut
// by truncateToSpan. Flows overrunning an inner chunk's end are left to
// it too: their tags continue them in the next chunk.
func fitToEnd(b *abi.Batch, lo, hi int64) *abi.Batch {
	fc, ts := b.Column(abi.FlowColumn), b.Column("ts")
	if fc == nil || ts == nil || b.Len() == 0 {
		return b
	}
	first, end := map[uint32]int64{}, map[uint32]int64{}
	for i, f := range fc.U32 {
		t := ts.I64[i]
		if v, ok := first[f]; !ok || t < v {
			first[f] = t
		}
		if v, ok := end[f]; !ok || t > v {
			end[f] = t
		}
	}
	shift := map[uint32]int64{}
	for f, e := range end {
		if e > hi {
			shift[f] = max(hi-e, min(lo-first[f], 0))
		}
	}
	if len(shift) == 0 {
		return b
	}
	out := *b
	out.Columns = slices.Clone(b.Columns)
	i := slices.IndexFunc(out.Columns, func(c abi.Column) bool { return c.Name == "ts" })
	moved := slices.Clone(ts.I64)
	for j, f := range fc.U32 {
		moved[j] += shift[f]
	}
	out.Columns[i].I64 = moved
	return &out
}

// truncateToSpan drops generated records outside [lo, hi].
func truncateToSpan(b *abi.Batch, lo, hi int64) *abi.Batch {
	ts := b.Column("ts")
	if ts == nil {
		return b
	}
	keep := make([]int32, 0, b.Len())
	for i, t := range ts.I64 {
		if t >= lo && t <= hi {
			keep = append(keep, int32(i))
		}
	}
	return b.Take(keep)
}

// concatByTime joins the chunks' records and sorts them by time.
func concatByTime(parts []*abi.Batch) (*abi.Batch, error) {
	var app trace.Appender
	for _, p := range parts {
		if err := app.Append(p); err != nil {
			return nil, err
		}
	}
	all := app.Batch()
	ts := all.Column("ts")
	if ts == nil {
		return all, nil
	}
	order := make([]int32, all.Len())
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(i, j int) bool { return ts.I64[order[i]] < ts.I64[order[j]] })
	return all.Take(order), nil
}
