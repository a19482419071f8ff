package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/run"
)

// Job is what the workflow carries: everything a worker needs to run the
// pipeline, by reference into the artifact store. Paths in it are
// relative to the store's root, which each worker mounts where it likes.
type Job struct {
	// RunID names the workflow and the run directory (runs/<RunID>).
	RunID string `json:"run_id"`
	// Source is where the pipeline came from, for messages.
	Source string `json:"source"`
	// Pipeline is the digest of the pipeline text as the workers read it:
	// inputs, modules and pretrained files point into the store and
	// run_dir is the run's directory there.
	Pipeline string `json:"pipeline"`
	// Artifacts are the digests of every file the pipeline reads; a worker
	// verifies each before it uses the run.
	Artifacts []string `json:"artifacts"`
	// HeartbeatTimeout is how long an activity may go silent before
	// Temporal declares its worker lost and retries it elsewhere.
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout"`
}

// DefaultHeartbeatTimeout bounds how long a dead worker holds a chunk.
const DefaultHeartbeatTimeout = time.Minute

// NewJob copies what cfg reads into the store and returns the job that
// runs it. The run id is derived from the pipeline text and the inputs'
// content (not from [cluster] or run_dir), so submitting the same pipeline
// again names the same run: a running one is re-attached, a finished one
// reuses its stages.
func NewJob(ctx context.Context, cfg *pipeline.Config, store Artifacts) (Job, error) {
	var doc map[string]any
	if _, err := toml.Decode(cfg.Text, &doc); err != nil {
		return Job{}, fmt.Errorf("%s: %w", cfg.Source, err)
	}
	job := Job{Source: cfg.Source, HeartbeatTimeout: DefaultHeartbeatTimeout}
	put := func(what, p string) (string, error) {
		digest, err := store.Put(ctx, cfg.Resolve(p))
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", cfg.Source, what, err)
		}
		job.Artifacts = append(job.Artifacts, digest)
		return ObjectPath(digest), nil
	}
	if in, ok := doc["input"].(map[string]any); ok {
		if paths, ok := in["paths"].([]any); ok {
			for i, p := range paths {
				s, _ := p.(string)
				if s == "" || strings.HasPrefix(s, "@") {
					continue // generated on the worker
				}
				var err error
				if paths[i], err = put(fmt.Sprintf("input.paths[%d]", i), s); err != nil {
					return Job{}, err
				}
			}
		}
	}
	if pl, ok := doc["plugins"].(map[string]any); ok {
		// The compilation cache is each worker's own.
		delete(pl, "cache_dir")
		for i, m := range tables(pl["module"]) {
			if s, _ := m["path"].(string); s != "" {
				var err error
				if m["path"], err = put(fmt.Sprintf("plugins.module[%d].path", i), s); err != nil {
					return Job{}, err
				}
			}
		}
	}
	for i, f := range tables(doc["fields"]) {
		params, _ := f["params"].(map[string]any)
		s, _ := params["pretrained"].(string)
		if s == "" || strings.HasPrefix(s, "base64:") || strings.HasPrefix(strings.TrimSpace(s), "{") {
			continue // inline, travels in the text
		}
		var err error
		if params["pretrained"], err = put(fmt.Sprintf("fields[%d].params.pretrained", i), s); err != nil {
			return Job{}, err
		}
	}
	if pr, ok := doc["privacy"].(map[string]any); ok {
		if s, _ := pr["pretrained"].(string); s != "" {
			// A public run's encoders and records (the DP prior's fields
			// and histogram bins) do not travel yet: refuse what would
			// silently differ from a local run.
			if _, err := os.Stat(filepath.Join(cfg.Resolve(s), "encoders.json")); err == nil && (len(cfg.Fields) == 0 || len(cfg.Privacy.Marginals) > 0) {
				return Job{}, fmt.Errorf("%s: privacy.pretrained: a cluster run carries only the public model's checkpoint, not its encoders.json or records, so the public prior (default fields from the public run, privacy.marginals) would differ from a local run: list [[fields]] with data-independent encoders and no privacy.marginals, or run it locally", cfg.Source)
			}
			// A run directory travels as the one checkpoint a run reads
			// from it.
			ck, err := run.PublicCheckpoint(cfg.Resolve(s))
			if err != nil {
				return Job{}, fmt.Errorf("%s: %w", cfg.Source, err)
			}
			if pr["pretrained"], err = put("privacy.pretrained", ck); err != nil {
				return Job{}, err
			}
		}
	}
	// Where the run goes is no part of what it computes: the workers learn
	// the cluster from their own settings, and the run id hashes
	// everything but that and the run directory.
	delete(doc, "cluster")
	delete(doc, "run_dir")
	text, err := encodeTOML(doc)
	if err != nil {
		return Job{}, fmt.Errorf("%s: %w", cfg.Source, err)
	}
	sum := sha256.Sum256(text)
	job.RunID = "netshare-" + hex.EncodeToString(sum[:6])
	doc["run_dir"] = RunPath(job.RunID)
	if text, err = encodeTOML(doc); err != nil {
		return Job{}, fmt.Errorf("%s: %w", cfg.Source, err)
	}
	// Check now, not on a worker, that the rewritten text still parses
	// (where the store's root is does not matter for that).
	if _, err := pipeline.Parse(cfg.Source, ".", text, nil); err != nil {
		return Job{}, fmt.Errorf("rewriting the pipeline for the cluster: %w", err)
	}
	if job.Pipeline, err = store.PutBytes(ctx, text); err != nil {
		return Job{}, err
	}
	return job, nil
}

// Config parses the job's pipeline as checked out in ws (verified, with
// every artifact it names) and resolves it against the workspace's base.
// cacheDir, if set, is this worker's plugin compilation cache.
func (j Job) Config(ws *Workspace, cacheDir string) (*pipeline.Config, error) {
	var sets []string
	if cacheDir != "" {
		q, _ := encodeTOMLValue(cacheDir)
		sets = append(sets, "plugins.cache_dir="+q)
	}
	cfg, err := pipeline.Parse(fmt.Sprintf("%s (run %s)", j.Source, j.RunID), ws.Base, ws.Pipeline, sets)
	if err != nil {
		return nil, err
	}
	want := ws.RunDir(j.RunID)
	if got := filepath.Clean(cfg.Resolve(cfg.RunDir)); got != want {
		return nil, fmt.Errorf("run %s: the pipeline's run directory is %s, want %s", j.RunID, got, want)
	}
	return cfg, nil
}

func tables(v any) []map[string]any {
	switch t := v.(type) {
	case []map[string]any:
		return t
	case []any:
		var out []map[string]any
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func encodeTOML(doc map[string]any) ([]byte, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeTOMLValue writes s as a TOML string (quoted and escaped).
func encodeTOMLValue(s string) (string, error) {
	b, err := encodeTOML(map[string]any{"v": s})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimPrefix(string(b), "v = ")), nil
}
