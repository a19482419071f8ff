package gan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/netshare/netshare/host/internal/tensor"
)

// ChunkOptions controls TrainChunks.
type ChunkOptions struct {
	Steps int // iterations for chunk 0
	// Fraction of Steps that chunks 1..N−1 train, starting from chunk 0's
	// final weights (NetShare: 1/4). Zero means 0.25.
	Fraction float64
	// Workers trains that many later chunks at once (zero: GOMAXPROCS);
	// chunk 0, trained alone, runs its sgemm on that many threads.
	Workers int
	Seed    int64
	// Dir, if set, holds chunk k's checkpoints in Dir/chunk-k.
	Dir             string
	CheckpointEvery int
	Resume          bool
	// Log and Progress, if set, are asked per chunk.
	Log      func(chunk int) io.Writer
	LogEvery int
	Progress func(chunk int, p Progress)
}

// ChunkSeed is the seed TrainChunks gives chunk k.
func ChunkSeed(seed int64, k int) int64 { return seed + int64(k)*1_000_003 }

// TrainChunks trains one model per chunk as NetShare does: chunk 0 from
// scratch for Steps, then chunks 1..N−1 in parallel, each from chunk 0's
// final weights and optimizer state for Fraction·Steps with its own seeded
// RNG, so the result depends only on the seed, not on scheduling.
func TrainChunks(ctx context.Context, cfg Config, sets []*tensor.Set, maxLen int, opts ChunkOptions) ([]*Model, error) {
	if len(sets) == 0 {
		return nil, errors.New("gan: no chunks to train")
	}
	frac := opts.Fraction
	if frac == 0 {
		frac = 0.25
	}
	if frac < 0 {
		return nil, fmt.Errorf("gan: chunk step fraction %g < 0", frac)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	set0 := sets[0]
	m0, err := New(cfg, set0.AttrOutputs, set0.FeatOutputs, maxLen, ChunkSeed(opts.Seed, 0))
	if err != nil {
		return nil, err
	}
	trainOpts := func(k, steps int) TrainOptions {
		o := TrainOptions{Steps: steps, CheckpointEvery: opts.CheckpointEvery, Resume: opts.Resume, LogEvery: opts.LogEvery}
		if opts.Dir != "" {
			o.CheckpointDir = filepath.Join(opts.Dir, fmt.Sprintf("chunk-%d", k))
		}
		if opts.Log != nil {
			o.Log = opts.Log(k)
		}
		if opts.Progress != nil {
			o.Progress = func(p Progress) { opts.Progress(k, p) }
		}
		return o
	}
	// Chunk 0 trains alone: its sgemm gets every worker's thread; the
	// fine-tunes then share them.
	defer SetBLASThreads(1)
	SetBLASThreads(workers)
	if err := m0.Train(ctx, set0, trainOpts(0, opts.Steps)); err != nil {
		return nil, fmt.Errorf("gan: chunk 0: %w", err)
	}
	SetBLASThreads(workers / max(1, min(workers, len(sets)-1)))
	models := make([]*Model, len(sets))
	models[0] = m0
	later := int(float64(opts.Steps)*frac + 0.5)
	errs := make([]error, len(sets))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(sets)-1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				m, err := m0.Fork(ChunkSeed(opts.Seed, k))
				if err == nil {
					err = m.Train(ctx, sets[k], trainOpts(k, later))
				}
				if err != nil {
					errs[k] = fmt.Errorf("gan: chunk %d: %w", k, err)
					continue
				}
				models[k] = m
			}
		}()
	}
	for k := 1; k < len(sets); k++ {
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return models, nil
}
