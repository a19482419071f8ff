package gan

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/tensor"
)

const fileVersion = 1

// modelFile is everything needed to continue training bit-identically:
// weights, BatchNorm statistics, Adam moments, the RNG and the step.
type modelFile struct {
	Version          int
	Config           Config
	AttrOut, FeatOut []tensor.Output
	MaxLen           int
	Seed             int64
	Step             int
	Names            []string
	Values           [][]float32
	AdamT            [3]int
	AdamM, AdamV     [3][][]float32
	RNG              []byte
	// EMA is the generator's moving average (ema.go) in genState's order,
	// with BatchNorm statistics estimated for it; nil without Config.EMA.
	EMA [][]float32
	// LengthCap and LengthMean are Config.LengthWeighting's cap and mean
	// training weight (0 without it), which generation needs.
	LengthCap  int
	LengthMean float64
	// LengthDist is the distribution generation draws length bins from
	// (Config.LengthBins); nil without them.
	LengthDist []float64
}

// state lists every saved tensor in a fixed order.
func (m *Model) state() (names []string, vals [][]float32) {
	for _, ps := range [][]*param[float32]{m.gen.params(), m.disc.params(), m.attrDisc.params()} {
		for _, p := range ps {
			names, vals = append(names, p.name), append(vals, p.w)
		}
	}
	for i, bn := range m.gen.bn {
		names = append(names, "gen.attr.bn"+strconv.Itoa(i)+".running_mean", "gen.attr.bn"+strconv.Itoa(i)+".running_var")
		vals = append(vals, bn.runMean, bn.runVar)
	}
	return names, vals
}

func (m *Model) opts() [3]*adam[float32] { return [3]*adam[float32]{m.optG, m.optD, m.optA} }

// Save writes the model atomically (temporary file, then rename) to path.
// The file serves both as a training checkpoint and for generation.
func (m *Model) Save(path string) error {
	f := modelFile{Version: fileVersion, Config: m.cfg, AttrOut: m.attrOut, FeatOut: m.featOut,
		MaxLen: m.maxLen, Seed: m.seed, Step: m.step, LengthCap: m.lenCap, LengthMean: m.lenMean,
		LengthDist: m.lenDist}
	f.Names, f.Values = m.state()
	if m.ema != nil {
		m.emaBatchNorm()
		_, f.EMA = genState(m.ema)
	}
	for i, o := range m.opts() {
		f.AdamT[i], f.AdamM[i], f.AdamV[i] = o.t, o.m, o.v
	}
	var err error
	if f.RNG, err = m.pcg.MarshalBinary(); err != nil {
		return fmt.Errorf("gan: saving RNG state: %w", err)
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := gob.NewEncoder(bw).Encode(&f); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("gan: saving model: %w", err)
	}
	return nil
}

func readModelFile(path string) (*modelFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gan: loading model: %w", err)
	}
	defer fh.Close()
	var f modelFile
	if err := gob.NewDecoder(bufio.NewReader(fh)).Decode(&f); err != nil {
		return nil, fmt.Errorf("gan: decoding model %s: %w", path, err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("gan: model %s has format version %d, want %d", path, f.Version, fileVersion)
	}
	return &f, nil
}

// Load reads a model written by Save or a training checkpoint.
func Load(path string) (*Model, error) {
	f, err := readModelFile(path)
	if err != nil {
		return nil, err
	}
	m, err := New(f.Config, f.AttrOut, f.FeatOut, f.MaxLen, f.Seed)
	if err != nil {
		return nil, fmt.Errorf("gan: model %s: %w", path, err)
	}
	if err := m.apply(f, path); err != nil {
		return nil, err
	}
	return m, nil
}

// restore continues from a checkpoint of the same model.
func (m *Model) restore(path string) error {
	f, err := readModelFile(path)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(f.Config, m.cfg) || f.MaxLen != m.maxLen ||
		sameOutputs(m.attrOut, f.AttrOut) != nil || sameOutputs(m.featOut, f.FeatOut) != nil {
		return fmt.Errorf("gan: checkpoint %s is for a different model configuration", path)
	}
	return m.apply(f, path)
}

func (m *Model) apply(f *modelFile, path string) error {
	if len(f.LengthDist) != m.gen.lenBins {
		// Models of before the bins were a condition generated them
		// with a head of their own; their weights do not fit this one.
		return fmt.Errorf("gan: model %s has a distribution over %d length bins, want %d (a model saved before length bins were a condition must be retrained)", path, len(f.LengthDist), m.gen.lenBins)
	}
	names, vals := m.state()
	if len(f.Names) != len(names) {
		return fmt.Errorf("gan: model %s has %d tensors, want %d", path, len(f.Names), len(names))
	}
	for i, n := range names {
		if f.Names[i] != n || len(f.Values[i]) != len(vals[i]) {
			return fmt.Errorf("gan: model %s: tensor %d is %s[%d], want %s[%d]", path, i, f.Names[i], len(f.Values[i]), n, len(vals[i]))
		}
		copy(vals[i], f.Values[i])
	}
	for i, o := range m.opts() {
		if len(f.AdamM[i]) != len(o.m) {
			return fmt.Errorf("gan: model %s: optimizer %d state has %d tensors, want %d", path, i, len(f.AdamM[i]), len(o.m))
		}
		o.t = f.AdamT[i]
		for j := range o.m {
			if len(f.AdamM[i][j]) != len(o.m[j]) || len(f.AdamV[i][j]) != len(o.v[j]) {
				return fmt.Errorf("gan: model %s: optimizer %d tensor %d has the wrong size", path, i, j)
			}
			copy(o.m[j], f.AdamM[i][j])
			copy(o.v[j], f.AdamV[i][j])
		}
	}
	if err := m.pcg.UnmarshalBinary(f.RNG); err != nil {
		return fmt.Errorf("gan: model %s: RNG state: %w", path, err)
	}
	m.step = f.Step
	m.lenCap, m.lenMean = f.LengthCap, f.LengthMean
	if !m.lenSet {
		m.lenDist = f.LengthDist
	}
	if m.ema != nil {
		names, vals := genState(m.ema)
		if len(f.EMA) != len(vals) {
			return fmt.Errorf("gan: model %s has %d tensors of the generator's average, want %d", path, len(f.EMA), len(vals))
		}
		for i, v := range vals {
			if len(f.EMA[i]) != len(v) {
				return fmt.Errorf("gan: model %s: average tensor %s has %d values, want %d", path, names[i], len(f.EMA[i]), len(v))
			}
			copy(v, f.EMA[i])
		}
		m.emaStep = m.step
	}
	return nil
}

func checkpointPath(dir string, step int) string {
	return filepath.Join(dir, fmt.Sprintf("step-%09d.ckpt", step))
}

// Checkpoints lists the checkpoints in dir by increasing step.
func Checkpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gan: listing checkpoints: %w", err)
	}
	type ck struct {
		step int
		path string
	}
	var cks []ck
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "step-") || !strings.HasSuffix(name, ".ckpt") {
			continue
		}
		s, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "step-"), ".ckpt"))
		if err != nil {
			continue
		}
		cks = append(cks, ck{s, filepath.Join(dir, name)})
	}
	sort.Slice(cks, func(i, j int) bool { return cks[i].step < cks[j].step })
	paths := make([]string, len(cks))
	for i, c := range cks {
		paths[i] = c.path
	}
	return paths, nil
}

// LatestCheckpoint returns the newest checkpoint in dir and its step, or ""
// when there is none.
func LatestCheckpoint(dir string) (string, int, error) {
	paths, err := Checkpoints(dir)
	if err != nil || len(paths) == 0 {
		return "", 0, err
	}
	p := paths[len(paths)-1]
	s, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "step-"), ".ckpt"))
	return p, s, nil
}

// cloneWith returns a deep copy of m under cfg with its own RNG seeded by seed and its
// step reset, for chunks that continue from chunk 0's weights.
func (m *Model) cloneWith(cfg Config, seed int64) (*Model, error) {
	c, err := New(cfg, m.attrOut, m.featOut, m.maxLen, seed)
	if err != nil {
		return nil, err
	}
	_, src := m.state()
	_, dst := c.state()
	for i := range src {
		copy(dst[i], src[i])
	}
	for i, o := range m.opts() {
		co := c.opts()[i]
		co.t = o.t
		for j := range o.m {
			copy(co.m[j], o.m[j])
			copy(co.v[j], o.v[j])
		}
	}
	c.pcg.Seed(uint64(seed), 0x6e657473686172)
	// The fork's average starts from the weights it trains on.
	c.resetEMA()
	return c, nil
}
