package run

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/sample"
	"github.com/netshare/netshare/host/internal/trace"
)

// inputPaths resolves the configured inputs, generating the sample trace
// for "@sample".
func (r *runner) inputPaths(ctx context.Context) ([]string, error) {
	var paths []string
	for _, p := range r.cfg.Input.Paths {
		if p != "@sample" {
			paths = append(paths, r.cfg.Resolve(p))
			continue
		}
		path := filepath.Join(r.dir, "input", "sample.pcap")
		if _, err := os.Stat(path); err != nil {
			o := sample.DefaultOptions()
			o.Seed = uint64(r.cfg.Seed)
			if err := trace.Write(ctx, r.host, path, sample.Packets(o), trace.WriteOptions{Format: "pcap", Seed: r.cfg.Seed}); err != nil {
				return nil, fmt.Errorf("writing the sample trace: %w", err)
			}
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func (r *runner) read(ctx context.Context) (bool, error) {
	paths, err := r.inputPaths(ctx)
	if err != nil {
		return false, err
	}
	k := newKey("read").json("input", r.cfg.Input)
	for _, p := range paths {
		if err := k.file(p); err != nil {
			return false, err
		}
	}
	key := k.sum()
	r.keys["read"] = key
	recPath := filepath.Join(r.dir, "records", "records.bin")
	infoPath := filepath.Join(r.dir, "records", "files.json")
	var info struct {
		Format string            `json:"format"`
		Files  []trace.FileStats `json:"files"`
	}
	reused := r.stages.fresh("read", key, recPath, infoPath)
	var all *abi.Batch
	if reused {
		if all, err = loadBatch(recPath); err != nil {
			return false, err
		}
		raw, err := os.ReadFile(infoPath)
		if err != nil {
			return false, err
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			return false, fmt.Errorf("%s: %w", infoPath, err)
		}
	} else {
		r.line.Update("read     %s", strings.Join(paths, ", "))
		tr, err := trace.Read(ctx, r.host, paths, trace.Options{Format: r.cfg.Input.Format, Params: r.cfg.Input.Params, Seed: r.cfg.Seed})
		if err != nil {
			return false, err
		}
		all, info.Files = tr.Records, tr.Files
		info.Format = r.cfg.Input.Format
		if info.Format == "" && len(tr.Files) > 0 {
			info.Format = tr.Files[0].Format
		}
		if all.Len() == 0 {
			return false, fmt.Errorf("no records in %s", strings.Join(paths, ", "))
		}
		if err := saveBatch(recPath, all); err != nil {
			return false, err
		}
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := atomicfile.WriteBytes(infoPath, b); err != nil {
			return false, err
		}
		if err := r.stages.done("read", key); err != nil {
			return false, err
		}
	}
	r.inFmt = info.Format
	for _, f := range info.Files {
		var skipped int64
		for _, n := range f.Skipped {
			skipped += n
		}
		if skipped > 0 {
			fmt.Fprintf(r.out, "read     %s: %d records, %d skipped %v\n", f.Path, f.Records, skipped, f.Skipped)
		}
	}
	r.records, r.holdout = splitHoldout(all, r.cfg.Input.Holdout, r.cfg.Flows.Key, r.cfg.Seed)
	return reused, nil
}

// splitHoldout keeps a seeded random fraction of the flows (whole flows,
// by the flow key) out of training. A random slice rather than the last
// part of the trace: a holdout from a later time would differ from the
// training records by its timestamps alone, and the privacy audit would
// read that drift as memorisation.
func splitHoldout(b *abi.Batch, frac float64, key []string, seed int64) (train, holdout *abi.Batch) {
	if frac <= 0 {
		return b, nil
	}
	var cols []*abi.Column
	for _, k := range key {
		if c := b.Column(k); c != nil {
			cols = append(cols, c)
		}
	}
	var tr, ho []int32
	h := fnv.New64a()
	var buf []byte
	cut := uint64(frac * float64(math.MaxUint64))
	for i := 0; i < b.Len(); i++ {
		buf = abi.AppendKey(binary.LittleEndian.AppendUint64(buf[:0], uint64(seed)), cols, i)
		h.Reset()
		h.Write(buf)
		if h.Sum64() < cut {
			ho = append(ho, int32(i))
		} else {
			tr = append(tr, int32(i))
		}
	}
	return b.Take(tr), b.Take(ho)
}
