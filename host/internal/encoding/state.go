package encoding

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/netshare/netshare/host/internal/tensor"
)

// Save writes the state to path atomically: a temporary file in the same
// folder, synced, then renamed over path.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("encoding state %s: %w", path, err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("encoding state %s: %w", path, err)
	}
	return nil
}

// LoadState reads a state written by Save.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("encoding state %s: %w", path, err)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("encoding state %s: version %d, this build reads %d", path, s.Version, StateVersion)
	}
	if s.MaxLen <= 0 || s.NChunks <= 0 {
		return nil, fmt.Errorf("encoding state %s: bad max_len %d or n_chunks %d", path, s.MaxLen, s.NChunks)
	}
	if s.Time != nil && len(s.Time.Chunks) != s.NChunks {
		return nil, fmt.Errorf("encoding state %s: time field has %d chunk states for %d chunks", path, len(s.Time.Chunks), s.NChunks)
	}
	// Recompute the layout from the field outputs rather than trusting
	// the saved copy, so a hand-edited file cannot disagree with itself.
	saved := append([]tensor.Output(nil), s.AttrOutputs...)
	savedF := append([]tensor.Output(nil), s.FeatOutputs...)
	if err := s.layout(); err != nil {
		return nil, fmt.Errorf("encoding state %s: %w", path, err)
	}
	// FirstUnused is derived from the time field, and a state saved
	// before it existed lacks it.
	sameLayout := func(a, b tensor.Output) bool { a.FirstUnused = b.FirstUnused; return a == b }
	if !slices.Equal(saved, s.AttrOutputs) || !slices.EqualFunc(savedF, s.FeatOutputs, sameLayout) {
		return nil, fmt.Errorf("encoding state %s: saved output layout disagrees with the field outputs", path)
	}
	return &s, nil
}
