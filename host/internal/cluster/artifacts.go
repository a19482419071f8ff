package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/netshare/netshare/host/internal/atomicfile"
)

// Artifacts is where a cluster run's files live: the inputs, named by
// their content, and the run directories. Two kinds exist: a directory
// every worker mounts (Store) and an S3-compatible bucket (S3Store), which
// a worker mirrors into a local workspace for the length of an activity.
type Artifacts interface {
	// Put copies the file at path into the store and returns its digest.
	Put(ctx context.Context, path string) (string, error)
	// PutBytes stores b and returns its digest.
	PutBytes(ctx context.Context, b []byte) (string, error)
	// Checkout makes the job's pipeline, its inputs and the files of its
	// run directory that pick chooses from all of them (all, when pick is
	// nil) available as local files, every object verified against its
	// digest. The workspace's Publish writes what the activity changed
	// back.
	Checkout(ctx context.Context, job Job, pick Picker) (*Workspace, error)
	// Export copies store paths (files, or directories: every file under
	// them) of a run to dst, keeping their paths below the run directory.
	Export(ctx context.Context, runID string, rels []string, dst string) error
	// String names the store for messages: a directory or an s3:// URL.
	String() string
}

// OpenArtifacts opens the store cluster.artifacts names: an s3://bucket/prefix
// URL, or else a directory. scratch is where an S3 store keeps its local
// copies ("" for the user's cache directory); a directory store needs none.
func OpenArtifacts(ctx context.Context, spec, scratch string) (Artifacts, error) {
	if strings.HasPrefix(spec, "s3://") {
		return NewS3Store(ctx, spec, scratch)
	}
	return NewStore(spec)
}

// Picker chooses, from the paths of a run's files (relative to the run
// directory), those an activity needs.
type Picker func(rels []string) []string

// Workspace is a job's view of the store on this machine: Base stands for
// the store's root (the pipeline's paths resolve against it).
type Workspace struct {
	Base string
	// Pipeline is the verified pipeline text.
	Pipeline []byte

	// read and written count the bytes the workspace brought in and sent
	// out: what an activity costs the store. files and size are the run
	// files checked out and their bytes (a cached object is not read again,
	// but still counts here).
	read, written atomic.Int64
	files         []string
	size          int64
	publish       func(ctx context.Context) error
	close         func() error
}

// RunDir is the run's directory in the workspace.
func (w *Workspace) RunDir(runID string) string {
	return filepath.Join(w.Base, filepath.FromSlash(RunPath(runID)))
}

// Rel turns a path in the workspace into one relative to the store's root.
func (w *Workspace) Rel(p string) string {
	if p == "" {
		return ""
	}
	if q, err := filepath.Rel(w.Base, p); err == nil {
		return filepath.ToSlash(q)
	}
	return p
}

// Publish writes the run directory's changes back to the store (a no-op
// for a shared directory, where the activity wrote in place).
func (w *Workspace) Publish(ctx context.Context) error {
	if w.publish == nil {
		return nil
	}
	return w.publish(ctx)
}

// Close removes the local copies (a no-op for a shared directory).
func (w *Workspace) Close() error {
	if w.close == nil {
		return nil
	}
	return w.close()
}

// Files returns the run files checked out and their bytes (on a shared
// directory, where nothing is copied, those the activity picked to read;
// nil when it picked none).
func (w *Workspace) Files() ([]string, int64) { return w.files, w.size }

// Traffic returns the bytes this workspace read from and wrote to the
// store so far.
func (w *Workspace) Traffic() (read, written int64) { return w.read.Load(), w.written.Load() }

// Checkout of a shared directory: everything is already in place; only
// the pipeline and the inputs are verified. pick is not called, since
// nothing is copied.
func (s *Store) Checkout(ctx context.Context, job Job, pick Picker) (*Workspace, error) {
	text, err := s.Read(job.Pipeline)
	if err != nil {
		return nil, fmt.Errorf("run %s: pipeline: %w", job.RunID, err)
	}
	for _, d := range job.Artifacts {
		if _, err := s.Verify(d); err != nil {
			return nil, fmt.Errorf("run %s: %w", job.RunID, err)
		}
	}
	ws := &Workspace{Base: s.Root, Pipeline: text}
	if pick != nil {
		// Nothing is copied, but what the activity will read is known:
		// list it, for the traffic the activity logs.
		dir := ws.RunDir(job.RunID)
		var rels []string
		sizes := map[string]int64{}
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			rels = append(rels, rel)
			sizes[rel] = info.Size()
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("run %s: %w", job.RunID, err)
		}
		ws.files = pick(rels)
		for _, rel := range ws.files {
			ws.size += sizes[rel]
		}
	}
	return ws, nil
}

// Export copies run files out of the shared directory.
func (s *Store) Export(ctx context.Context, runID string, rels []string, dst string) error {
	runDir := filepath.Join(s.Root, filepath.FromSlash(RunPath(runID)))
	for _, rel := range rels {
		sub, err := runRel(runID, rel)
		if err != nil {
			return err
		}
		root := filepath.Join(runDir, filepath.FromSlash(sub))
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			q, err := filepath.Rel(runDir, p)
			if err != nil {
				return err
			}
			return copyFile(p, filepath.Join(dst, q))
		})
		if err != nil {
			return fmt.Errorf("artifact store %s: exporting %s: %w", s.Root, rel, err)
		}
	}
	return nil
}

func (s *Store) String() string { return s.Root }

// runRel turns a store path under runs/<runID>/ into one relative to the
// run directory, refusing one outside it.
func runRel(runID, rel string) (string, error) {
	pre := RunPath(runID) + "/"
	clean := path.Clean(rel)
	if !strings.HasPrefix(clean, pre) {
		return "", fmt.Errorf("%q is not in run %s", rel, runID)
	}
	return strings.TrimPrefix(clean, pre), nil
}

// copyFile copies src to dst atomically, creating dst's directory.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
