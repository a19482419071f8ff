package run

import (
	"encoding/gob"
	"fmt"
	"io"
	"os"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/tensor"
)

// Records and tensors are stored in their own wire forms: a batch as the
// ABI lays it out (already validated on read), a tensor set with gob.

func saveBatch(path string, b *abi.Batch) error {
	return atomicfile.WriteBytes(path, abi.AppendBatch(nil, b))
}

func loadBatch(path string) (*abi.Batch, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := abi.DecodeBatch(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func saveSet(path string, s *tensor.Set) error { return writeGob(path, s) }

func loadSet(path string) (*tensor.Set, error) {
	var s tensor.Set
	if err := readGob(path, &s); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func writeGob(path string, v any) error {
	return atomicfile.Write(path, func(w io.Writer) error { return gob.NewEncoder(w).Encode(v) })
}

func readGob(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := gob.NewDecoder(f).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
