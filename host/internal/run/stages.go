package run

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/netshare/netshare/host/internal/atomicfile"
)

// stages remembers, per stage, the hash of everything the stage's output
// depends on. A stage whose key is unchanged and whose outputs exist is
// skipped: a user who changes only the output format or the metrics does
// not retrain.
type stages struct {
	path string
	Keys map[string]string `json:"keys"`
}

func loadStages(dir string) (*stages, error) {
	s := &stages{path: filepath.Join(dir, "stages.json"), Keys: map[string]string{}}
	b, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, s); err != nil {
		// A damaged record only costs a recomputation.
		s.Keys = map[string]string{}
	}
	return s, nil
}

// fresh reports whether stage ran with key and all outputs exist.
func (s *stages) fresh(stage, key string, outputs ...string) bool {
	if s.Keys[stage] != key {
		return false
	}
	for _, o := range outputs {
		if _, err := os.Stat(o); err != nil {
			return false
		}
	}
	return true
}

// done records that stage completed with key.
func (s *stages) done(stage, key string) error {
	s.Keys[stage] = key
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(s.path, b)
}

// forget drops stage's record, so it reruns (its inputs are changing).
func (s *stages) forget(stage string) { delete(s.Keys, stage) }

// keyer accumulates a stage key from named parts.
type keyer struct{ h hash.Hash }

func newKey(stage string) *keyer {
	k := &keyer{h: sha256.New()}
	k.str("stage", stage)
	return k
}

func (k *keyer) str(name, v string) *keyer {
	fmt.Fprintf(k.h, "%s=%d:%s\n", name, len(v), v)
	return k
}

func (k *keyer) json(name string, v any) *keyer {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf("%#v", v))
	}
	return k.str(name, string(b))
}

// file adds the content hash of a file.
func (k *keyer) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	k.str("file", hex.EncodeToString(h.Sum(nil)))
	return nil
}

func (k *keyer) sum() string { return hex.EncodeToString(k.h.Sum(nil)) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
