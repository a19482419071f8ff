// Package word2vec is the IP2Vec encoder (NetShare's word2vec_port and
// word2vec_proto fields): word2vec CBOW with negative sampling, trained on
// the trace's records as sentences [srcport, dstport, proto] over one
// shared, typed vocabulary ("port:80", "proto:6"). A field's value encodes
// as its token's unit-L2-normalised embedding (tanh head); a vector decodes
// to the value with the highest cosine similarity among the values the
// field's own column holds in the fitted data (exact search unless approx
// or max_checks say otherwise): source and destination ports share
// embeddings, but a destination port never decodes to a value only seen as
// a source port. A value never seen at fit encodes as the numerically
// nearest known value of its kind.
//
// All fields of a trace share one model: the manifest says so with
// Defaults["shared_fit"], and the host fits one instance (with the first
// field as its column) and loads the resulting state into every field. The
// per-field params "kind" and "max_checks" (Defaults["per_field_params"])
// do not split that sharing. Under differential
// privacy the model must come from a public trace through "pretrained".
package word2vec

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/encoder/internal/popular"
	"github.com/netshare/netshare/sdk"
)

func init() {
	sdk.RegisterEncoder(abi.Component{
		Name:    "word2vec",
		Version: "1.0.0",
		Summary: "IP2Vec: word2vec CBOW embeddings of [srcport, dstport, proto] sentences; decode by exact cosine nearest neighbour among the field's own values",
		Params: []abi.Param{
			{Name: "vector_size", Type: abi.ParamInt, Default: int64(10), Doc: "embedding dimensions (the field's output width)"},
			{Name: "window", Type: abi.ParamInt, Default: int64(5), Doc: "maximum context distance"},
			{Name: "negative", Type: abi.ParamInt, Default: int64(5), Doc: "negative samples per target"},
			{Name: "epochs", Type: abi.ParamInt, Default: int64(5), Doc: "passes over the corpus"},
			{Name: "alpha", Type: abi.ParamFloat, Default: 0.025, Doc: "initial learning rate, decaying linearly to min_alpha"},
			{Name: "min_alpha", Type: abi.ParamFloat, Default: 0.0001, Doc: "final learning rate"},
			{Name: "min_count", Type: abi.ParamInt, Default: int64(1), Doc: "tokens seen fewer times are left out of the vocabulary"},
			{Name: "sample", Type: abi.ParamFloat, Default: 1e-3, Doc: "down-sampling threshold for frequent tokens (gensim's sample); 0 disables"},
			{Name: "max_sentences", Type: abi.ParamInt, Default: int64(DefaultMaxSentences), Doc: "records that train the embedding at most: beyond it, a seeded uniform sample of the records plus one record for each token the sample misses (the vocabulary and its counts always come from every record), so fit memory is bounded by the vocabulary"},
			{Name: "sentence", Type: abi.ParamStrings, Default: []string{"srcport", "dstport", "proto"}, Doc: "the columns that make one sentence, in order"},
			{Name: "kinds", Type: abi.ParamTable, Default: map[string]string{"srcport": "port", "dstport": "port", "proto": "proto"}, Doc: "token kind of each sentence column; columns of one kind share tokens"},
			{Name: "kind", Type: abi.ParamString, Doc: "the kind this field's values belong to (default: kinds[column])"},
			{Name: "max_checks", Type: abi.ParamInt, Default: int64(0), Doc: "0: no budget; n > 0: examine at most n vocabulary vectors per decoded value (approximate, no bound)"},
			// 0.5: on generated output of trained models 99.7–99.98 % of
			// values decode as exact search decodes them, at 1.3–1.8 times
			// its speed in the sandbox (docs/encoders.md).
			{Name: "approx", Type: abi.ParamFloat, Default: 0.5, Doc: "ε ≥ 0: decode may return a value up to 1+ε times as far from the query as the nearest (a bound, not an estimate); 0 is exact"},
			{Name: "min_flows", Type: abi.ParamInt, Default: int64(5), Doc: "a value seen in at least this many distinct flows of a column gets a category of its own for that field (0: embedding only)"},
			{Name: "max_popular", Type: abi.ParamInt, Default: int64(256), Doc: "at most this many such categories per column, the most common values"},
			{Name: "pretrained", Type: abi.ParamString, Doc: "a fitted state to use instead of fitting (JSON text or \"base64:...\"); in a pipeline, a path the host reads"},
			{Name: abi.ParamPrivate, Type: abi.ParamBool, Default: false, Doc: "set by the host under differential privacy: pretrained is then required"},
		},
		Defaults: map[string]any{abi.DefaultSharedFit: true, abi.DefaultPerFieldParams: []any{"kind", "max_checks", "approx"}},
	}, New)
}

// Config holds the training parameters.
type Config struct {
	VectorSize int
	Window     int
	Negative   int
	Epochs     int
	Alpha      float64
	MinAlpha   float64
	MinCount   int
	Sample     float64
	Seed       int64
	// MaxSentences bounds the sentences kept for training (sentenceSample).
	MaxSentences int
}

// DefaultMaxSentences is max_sentences' default: the million records
// NetShare trains IP2Vec on for its largest traces, so traces up to that
// size train exactly on all their records; beyond it, five epochs over a
// million sentences still update every token of a 64k-port vocabulary
// hundreds of times on average, while the kept corpus stays at 12 MiB.
const DefaultMaxSentences = 1 << 20

// Encoder is one word2vec field.
type Encoder struct {
	column     string
	kind       string
	cfg        Config
	sentence   []string
	kinds      map[string]string
	pretrained []byte
	maxChecks  int
	grow       float64 // (1+approx)²: the tree's bound on squared distances
	maxPopular int

	// Popular values (popular.go): fit-time counters per sentence column,
	// nil when off; loaded categories of this field.
	counters []*popular.Counter
	popular  []int64
	popIndex map[int64]uint32 // value → category

	// Fit-time corpus.
	kindNames []string   // sorted distinct kinds of the sentence columns
	colKind   []int      // kind index of each sentence column
	colTypes  []abi.Type // type of each sentence column
	vocab     map[uint64]int32
	keys      []uint64 // token key by id: kind<<32 | uint32(value)
	counts    []int64
	colMask   []uint64 // by id: bit j set when sentence column j holds the token
	sample    *sentenceSample
	sent      []int32 // one record's token ids, reused
	typed     bool

	// Loaded state for this field's kind.
	loaded  bool
	dim     int
	values  []int64   // the kind's token values, ascending
	vecs    []float64 // len(values)×dim unit vectors, same order
	typ     abi.Type  // the field column's type
	dense   []int32   // nearest-token index for every value in [denseLo, denseLo+len)
	denseLo int64
	// small maps every value below 2^16 (all of a u8 or u16 column) to
	// the offset in vecs of its nearest token's vector: encoding ports and
	// protocols is one unchecked array index per row.
	small *[1 << 16]int32
	// tree holds the values decode chooses among: the field's own (its
	// column's tokens in the state), or the whole kind for a state that
	// does not record them.
	tree *kdTree
	memo *memo

	// Reused by every call.
	offs []int32 // Encode: each row's offset in vecs; Decode: each row's tree position
	vals []int64 // Decode: each row's value
	out  abi.Batch
	q    []float64
}

// New returns a word2vec encoder for env.Column.
func New(env sdk.Env) (sdk.FieldEncoder, error) {
	p := env.Params
	if env.Column == "" {
		return nil, fmt.Errorf("word2vec: no column named")
	}
	e := &Encoder{
		column: env.Column,
		cfg: Config{
			VectorSize: p.Int("vector_size"), Window: p.Int("window"), Negative: p.Int("negative"),
			Epochs: p.Int("epochs"), Alpha: p.Float("alpha"), MinAlpha: p.Float("min_alpha"),
			MinCount: p.Int("min_count"), Sample: p.Float("sample"), Seed: env.Seed,
			MaxSentences: p.Int("max_sentences"),
		},
		sentence:   p.Strings("sentence"),
		maxChecks:  p.Int("max_checks"),
		grow:       (1 + p.Float("approx")) * (1 + p.Float("approx")),
		kinds:      p.Table("kinds"),
		vocab:      map[uint64]int32{},
		maxPopular: p.Int("max_popular"),
	}
	c := e.cfg
	switch {
	case c.VectorSize < 1 || c.VectorSize > 1024:
		return nil, fmt.Errorf("word2vec %s: vector_size %d outside [1, 1024]", e.column, c.VectorSize)
	case c.Window < 1:
		return nil, fmt.Errorf("word2vec %s: window %d must be at least 1", e.column, c.Window)
	case c.Negative < 1:
		return nil, fmt.Errorf("word2vec %s: negative %d must be at least 1", e.column, c.Negative)
	case c.Epochs < 1:
		return nil, fmt.Errorf("word2vec %s: epochs %d must be at least 1", e.column, c.Epochs)
	case !(c.Alpha > 0) || c.MinAlpha < 0 || c.MinAlpha > c.Alpha:
		return nil, fmt.Errorf("word2vec %s: need 0 <= min_alpha <= alpha and alpha > 0, got alpha %v, min_alpha %v", e.column, c.Alpha, c.MinAlpha)
	case c.MinCount < 1:
		return nil, fmt.Errorf("word2vec %s: min_count %d must be at least 1", e.column, c.MinCount)
	case c.Sample < 0:
		return nil, fmt.Errorf("word2vec %s: sample %v must not be negative", e.column, c.Sample)
	case c.MaxSentences < 1:
		return nil, fmt.Errorf("word2vec %s: max_sentences %d must be at least 1", e.column, c.MaxSentences)
	case !(p.Float("approx") >= 0) || math.IsInf(p.Float("approx"), 0):
		return nil, fmt.Errorf("word2vec %s: approx %v must be a finite number ≥ 0", e.column, p.Float("approx"))
	case p.Int("min_flows") < 0 || e.maxPopular < 0:
		return nil, fmt.Errorf("word2vec %s: min_flows %d and max_popular %d must not be negative", e.column, p.Int("min_flows"), e.maxPopular)
	case e.maxChecks < 0:
		return nil, fmt.Errorf("word2vec %s: max_checks %d must not be negative", e.column, e.maxChecks)
	case len(e.sentence) == 0:
		return nil, fmt.Errorf("word2vec %s: sentence names no columns", e.column)
	case len(e.sentence) > 64:
		return nil, fmt.Errorf("word2vec %s: sentence names %d columns, at most 64", e.column, len(e.sentence))
	}
	seen := map[string]bool{}
	kindSet := map[string]bool{}
	for _, s := range e.sentence {
		if seen[s] {
			return nil, fmt.Errorf("word2vec %s: sentence lists column %q twice", e.column, s)
		}
		seen[s] = true
		k, ok := e.kinds[s]
		if !ok || k == "" {
			return nil, fmt.Errorf("word2vec %s: sentence column %q has no kind in kinds", e.column, s)
		}
		kindSet[k] = true
	}
	for k := range kindSet {
		e.kindNames = append(e.kindNames, k)
	}
	sort.Strings(e.kindNames)
	for _, s := range e.sentence {
		e.colKind = append(e.colKind, slices.Index(e.kindNames, e.kinds[s]))
	}
	e.kind = e.kinds[e.column]
	if p.Has("kind") {
		e.kind = p.String("kind")
	}
	if e.kind == "" {
		return nil, fmt.Errorf("word2vec %s: column is not in kinds and no kind param is set", e.column)
	}
	if p.Has("pretrained") && p.String("pretrained") != "" {
		raw, err := inlineState(p.String("pretrained"))
		if err != nil {
			return nil, fmt.Errorf("word2vec %s: pretrained: %w", e.column, err)
		}
		if _, _, err := parseState(raw); err != nil {
			return nil, fmt.Errorf("word2vec %s: pretrained: %w", e.column, err)
		}
		e.pretrained = raw
	}
	if m := p.Int("min_flows"); m > 0 && e.maxPopular > 0 && e.pretrained == nil {
		for _, s := range e.sentence {
			e.counters = append(e.counters, popular.NewCounter(s, m, false))
		}
	}
	if p.Bool(abi.ParamPrivate) && e.pretrained == nil {
		return nil, fmt.Errorf("word2vec %s: private = true needs a pretrained model (trained on public data): embeddings fitted on private data leak it", e.column)
	}
	return e, nil
}

// Fit appends the batch's sentences to the corpus; training runs in FitEnd.
func (e *Encoder) Fit(b *abi.Batch) error {
	if e.pretrained != nil {
		return nil // the data is deliberately not looked at
	}
	cols := make([]*abi.Column, len(e.sentence))
	for j, name := range e.sentence {
		c := b.Column(name)
		if c == nil {
			return fmt.Errorf("word2vec %s: fit batch has no sentence column %q", e.column, name)
		}
		if !c.Type.IsInt() {
			return fmt.Errorf("word2vec %s: sentence column %q is %s, want an integer type", e.column, name, c.Type)
		}
		cols[j] = c
	}
	if !e.typed {
		for _, c := range cols {
			e.colTypes = append(e.colTypes, c.Type)
		}
		e.typed = true
	}
	for j, c := range cols {
		if c.Type != e.colTypes[j] {
			return fmt.Errorf("word2vec %s: column %q changed type from %s to %s between fit batches", e.column, c.Name, e.colTypes[j], c.Type)
		}
	}
	if e.sample == nil {
		e.sample = newSentenceSample(e.cfg.MaxSentences, len(e.sentence), e.cfg.Seed)
	}
	n := b.Len()
	for i := 0; i < n; i++ {
		e.sent = e.sent[:0]
		vocab := len(e.keys)
		for j, c := range cols {
			v := c.Int(i)
			if v < 0 || v > math.MaxUint32 {
				return fmt.Errorf("word2vec %s: row %d: %s = %d is outside [0, 2^32)", e.column, i, c.Name, v)
			}
			key := uint64(e.colKind[j])<<32 | uint64(v)
			id, ok := e.vocab[key]
			if !ok {
				id = int32(len(e.keys))
				e.vocab[key] = id
				e.keys = append(e.keys, key)
				e.counts = append(e.counts, 0)
				e.colMask = append(e.colMask, 0)
			}
			e.counts[id]++
			e.colMask[id] |= 1 << j
			e.sent = append(e.sent, id)
		}
		e.sample.add(e.sent, len(e.keys)-vocab)
	}
	for j, c := range e.counters {
		col := cols[j]
		c.Add(b, func(r int) uint64 { return uint64(col.Int(r)) })
	}
	return nil
}

// FitEnd trains the model and returns its state.
func (e *Encoder) FitEnd() ([]byte, error) {
	if e.pretrained != nil {
		return e.pretrained, nil
	}
	if e.sample == nil || e.sample.seen == 0 {
		return nil, fmt.Errorf("word2vec %s: fit saw no records", e.column)
	}
	corpus := e.sample.corpus(len(e.keys))
	m, err := Train(corpus, len(e.sentence), e.keys, e.counts, e.cfg)
	if err != nil {
		return nil, fmt.Errorf("word2vec %s: %w", e.column, err)
	}
	st := State{VectorSize: e.cfg.VectorSize, Kinds: e.kindNames, Columns: map[string]ColumnInfo{}}
	for j, name := range e.sentence {
		// The tokens this column holds: a field decodes only into its own
		// values, never into those only the other port column has.
		has := make([]bool, len(m.Keys))
		for i, k := range m.Keys {
			has[i] = e.colMask[e.vocab[k]]>>j&1 != 0
		}
		ci := ColumnInfo{Kind: e.kindNames[e.colKind[j]], Type: e.colTypes[j].String(), Tokens: encodeBits(has)}
		if e.counters != nil {
			for _, v := range e.counters[j].Popular(e.maxPopular) {
				ci.Popular = append(ci.Popular, int64(v))
			}
		}
		st.Columns[name] = ci
	}
	st.TokenKind = make([]int, len(m.Keys))
	st.TokenValue = make([]int64, len(m.Keys))
	for i, k := range m.Keys {
		st.TokenKind[i], st.TokenValue[i] = int(k>>32), int64(uint32(k))
	}
	st.Vectors = encodeFloats(m.Vectors)
	st.Training = fmt.Sprintf("cbow window=%d negative=%d epochs=%d alpha=%v min_alpha=%v min_count=%d sample=%v seed=%d records=%d",
		e.cfg.Window, e.cfg.Negative, e.cfg.Epochs, e.cfg.Alpha, e.cfg.MinAlpha, e.cfg.MinCount, e.cfg.Sample, e.cfg.Seed, e.sample.seen)
	if n := int64(len(corpus) / len(e.sentence)); n < e.sample.seen {
		st.Training += fmt.Sprintf(" trained_on=%d", n)
	}
	return json.Marshal(st)
}

// Load keeps this field's kind of the vocabulary and indexes it.
func (e *Encoder) Load(raw []byte) ([]abi.Output, error) {
	st, vecs, err := parseState(raw)
	if err != nil {
		return nil, fmt.Errorf("word2vec %s: %w", e.column, err)
	}
	kind := slices.Index(st.Kinds, e.kind)
	if kind < 0 {
		return nil, fmt.Errorf("word2vec %s: the model has no tokens of kind %q (it has %v)", e.column, e.kind, st.Kinds)
	}
	e.typ = abi.TypeU16
	if ci, ok := st.Columns[e.column]; ok {
		t, ok := abi.ParseType(ci.Type)
		if !ok || !t.IsInt() {
			return nil, fmt.Errorf("word2vec %s: state names column type %q", e.column, ci.Type)
		}
		e.typ = t
	} else {
		// A pretrained model may come from a trace with other column
		// names: take the type of a column of the same kind.
		names := make([]string, 0, len(st.Columns))
		for n := range st.Columns {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if st.Columns[n].Kind == e.kind {
				if t, ok := abi.ParseType(st.Columns[n].Type); ok && t.IsInt() {
					e.typ = t
					break
				}
			}
		}
	}
	d := st.VectorSize
	type tok struct {
		v int64
		i int
	}
	var toks []tok
	for i, k := range st.TokenKind {
		if k == kind {
			toks = append(toks, tok{st.TokenValue[i], i})
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("word2vec %s: the model has no tokens of kind %q", e.column, e.kind)
	}
	sort.Slice(toks, func(a, b int) bool { return toks[a].v < toks[b].v })
	if hi := maxOf(e.typ); toks[0].v < 0 || toks[len(toks)-1].v > hi {
		return nil, fmt.Errorf("word2vec %s: the model's %s tokens span %d..%d, beyond a %s column", e.column, e.kind, toks[0].v, toks[len(toks)-1].v, e.typ)
	}
	e.dim = d
	e.values = make([]int64, len(toks))
	e.vecs = make([]float64, len(toks)*d)
	for j, t := range toks {
		if j > 0 && t.v == toks[j-1].v {
			return nil, fmt.Errorf("word2vec %s: the model lists %s token %d twice", e.column, e.kind, t.v)
		}
		e.values[j] = t.v
		v := e.vecs[j*d : (j+1)*d]
		copy(v, vecs[t.i*d:(t.i+1)*d])
		normalize(v)
	}
	e.buildDense()
	e.small = new([1 << 16]int32)
	for x := range e.small {
		e.small[x] = int32(e.nearest(int64(x)) * d)
	}
	// Decode searches the field's own values only; encoding keeps the
	// whole kind, so a value this column never held (a pretrained model's,
	// or another column's) still encodes as its own vector.
	own, err := ownTokens(st, e.column, e.kind)
	if err != nil {
		return nil, fmt.Errorf("word2vec %s: %w", e.column, err)
	}
	pop, err := e.loadPopular(st)
	if err != nil {
		return nil, fmt.Errorf("word2vec %s: %w", e.column, err)
	}
	if own == nil && pop == nil {
		e.tree = newKDTree(e.vecs, d, e.values)
	} else {
		// A popular value has its category: "any other" decodes among
		// the rest, or among all the field's values when every one of
		// them is popular.
		pick := func(skipPopular bool) (cvecs []float64, cvals []int64) {
			for j, t := range toks {
				if (own == nil || own[t.i]) && !(skipPopular && pop[t.v]) {
					cvecs = append(cvecs, e.vecs[j*d:(j+1)*d]...)
					cvals = append(cvals, t.v)
				}
			}
			return cvecs, cvals
		}
		cvecs, cvals := pick(true)
		if len(cvals) == 0 {
			cvecs, cvals = pick(false)
		}
		e.tree = newKDTree(cvecs, d, cvals)
	}
	e.q = make([]float64, d)
	// The memo's answers are exact, approx or not (and fill no
	// certificates: most vectors it decodes are never generated).
	m, err := newMemo(e.vecs, d, func(row []float64) (int32, error) {
		q, err := e.query(row, 0)
		if err != nil {
			return 0, err
		}
		p, _ := e.tree.exact(q)
		return int32(p), nil
	})
	if err != nil {
		return nil, fmt.Errorf("word2vec %s: %w", e.column, err)
	}
	e.memo = m
	e.loaded = true
	var outs []abi.Output
	if len(e.popular) > 0 {
		outs = append(outs, abi.Output{Name: e.column + ".popular", Width: len(e.popular) + 1, Discrete: true, Activation: abi.ActSoftmax})
	}
	return append(outs, abi.Output{Name: e.column, Width: d, Activation: abi.ActTanh}), nil
}

// buildDense precomputes the nearest known value for every integer in the
// vocabulary's range when that range is small (ports, protocols), so that
// encoding, unseen values included, is one array index per row.
func (e *Encoder) buildDense() {
	e.dense = nil
	lo, hi := e.values[0], e.values[len(e.values)-1]
	if hi-lo > 1<<20 {
		return
	}
	e.denseLo = lo
	e.dense = make([]int32, hi-lo+1)
	j := 0
	for x := lo; x <= hi; x++ {
		for j+1 < len(e.values) && e.values[j+1] <= x {
			j++
		}
		// values[j] <= x < values[j+1]: pick the closer, the lower on ties.
		k := j
		if j+1 < len(e.values) && e.values[j+1]-x < x-e.values[j] {
			k = j + 1
		}
		e.dense[x-lo] = int32(k)
	}
}

// nearest returns the index of the known value closest to v.
func (e *Encoder) nearest(v int64) int {
	if e.dense != nil {
		switch {
		case v <= e.denseLo:
			return 0
		case v-e.denseLo >= int64(len(e.dense)):
			return len(e.values) - 1
		}
		return int(e.dense[v-e.denseLo])
	}
	j := sort.Search(len(e.values), func(i int) bool { return e.values[i] >= v })
	switch {
	case j == len(e.values):
		return j - 1
	case j == 0 || e.values[j] == v:
		return j
	case v-e.values[j-1] <= e.values[j]-v:
		return j - 1
	}
	return j
}

// maxOf is the largest value an integer column type holds.
func maxOf(t abi.Type) int64 {
	switch t {
	case abi.TypeU8:
		return math.MaxUint8
	case abi.TypeU16:
		return math.MaxUint16
	case abi.TypeU32, abi.TypeIPv4:
		return math.MaxUint32
	}
	return math.MaxInt64
}

func normalize(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] *= inv
	}
}

// Encode writes each value's unit vector (its nearest known value's for
// values never seen at fit).
func (e *Encoder) Encode(b *abi.Batch, out *abi.Encoded) error {
	if !e.loaded {
		return fmt.Errorf("word2vec %s: encode before load", e.column)
	}
	c := b.Column(e.column)
	if c == nil {
		return fmt.Errorf("word2vec %s: batch has no column %q", e.column, e.column)
	}
	if !c.Type.IsInt() {
		return fmt.Errorf("word2vec %s: column is %s, want an integer type", e.column, c.Type)
	}
	n, d := c.Len(), e.dim
	if out.ValueWidth != d || len(out.Values) != n*d {
		return fmt.Errorf("word2vec %s: encode into %d values of width %d, want %d rows × %d", e.column, len(out.Values), out.ValueWidth, n, d)
	}
	if err := e.encodePopular(c, out); err != nil {
		return err
	}
	// First each row's vector offset, one loop per column type, then the
	// copies.
	e.offs = abi.Grow(e.offs, n)
	offs, small := e.offs, e.small
	switch c.Type {
	case abi.TypeU8:
		for i, v := range c.U8 {
			offs[i] = small[v]
		}
	case abi.TypeU16:
		for i, v := range c.U16 {
			offs[i] = small[v]
		}
	case abi.TypeU32, abi.TypeIPv4:
		for i, v := range c.U32 {
			if v < 1<<16 {
				offs[i] = small[v]
			} else {
				offs[i] = int32(e.nearest(int64(v)) * d)
			}
		}
	default:
		for i, v := range c.I64 {
			if v >= 0 && v < 1<<16 {
				offs[i] = small[v]
			} else {
				offs[i] = int32(e.nearest(v) * d)
			}
		}
	}
	vals, vecs := out.Values, e.vecs
	if d == 10 {
		// Whole-array moves: no loop or call per row.
		for i, o := range offs {
			*(*[10]float64)(vals[i*10:]) = *(*[10]float64)(vecs[o:])
		}
		return nil
	}
	for i, o := range offs {
		copy(vals[i*d:(i+1)*d], vecs[o:int(o)+d])
	}
	return nil
}
