// Package cluster runs a pipeline as a Temporal workflow: one activity
// prepares the run (read and encode), one trains chunk 0, one per other
// chunk fine-tunes it in parallel, and one finishes (generate, output,
// score, report). Workers on any machine poll the task queue; they share a
// directory (the artifact store) that holds the inputs, content-addressed,
// and the run directories.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/netshare/netshare/host/internal/atomicfile"
)

// Store is the artifact store: a directory every worker reaches (a shared
// file system). Objects live under cas/sha256/<hex>, named by the SHA-256
// of their content; run directories under runs/<run id>.
type Store struct {
	Root string

	// verified remembers objects this process has hashed, by size and
	// modification time, so a worker hashes a large input once rather
	// than on every activity.
	mu       sync.Mutex
	verified map[string]stamp
}

type stamp struct {
	size  int64
	mtime int64
}

// NewStore opens the store at root, creating it if needed.
func NewStore(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("artifact store: no directory given ([cluster] artifacts or -artifacts)")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("artifact store %s: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, "cas", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("artifact store %s: %w", root, err)
	}
	return &Store{Root: abs, verified: map[string]stamp{}}, nil
}

// ObjectPath is where the object with this digest lives, relative to the
// store's root (workers mount the store at different places, so what
// travels between them is relative).
func ObjectPath(digest string) string { return "cas/sha256/" + digest }

// RunPath is a run's directory relative to the store's root.
func RunPath(runID string) string { return "runs/" + runID }

// Put copies the file at path into the store and returns its digest. The
// copy is written to a temporary file, hashed while written, synced and
// renamed into place, so a reader never sees a partial object; an object
// already present is verified, and replaced if it is damaged.
func (s *Store) Put(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("artifact store: %w", err)
	}
	defer f.Close()
	digest, _, err := s.ingest(f, "")
	if err != nil {
		return "", fmt.Errorf("artifact store: storing %s: %w", path, err)
	}
	return digest, nil
}

// ingest writes what r yields into the store and returns its digest and
// size. With want set, content that does not hash to want is refused (a
// download that was damaged or cut short) and nothing is stored.
func (s *Store) ingest(r io.Reader, want string) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.Root, "cas"), ".put-*")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		tmp.Close()
		return "", 0, err
	}
	digest := hex.EncodeToString(h.Sum(nil))
	if want != "" && digest != want {
		tmp.Close()
		return "", 0, fmt.Errorf("object %s is damaged or partial: its content hashes to %s (%d bytes)", want, digest, n)
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return "", 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", 0, err
	}
	if err := tmp.Close(); err != nil {
		return "", 0, err
	}
	if _, err := s.Verify(digest); err == nil {
		return digest, n, nil
	}
	if err := os.Rename(tmp.Name(), s.abs(digest)); err != nil {
		return "", 0, err
	}
	return digest, n, nil
}

// PutBytes stores b and returns its digest.
func (s *Store) PutBytes(ctx context.Context, b []byte) (string, error) {
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	if _, err := s.Verify(digest); err == nil {
		return digest, nil
	}
	if err := atomicfile.WriteBytes(s.abs(digest), b); err != nil {
		return "", fmt.Errorf("artifact store: %w", err)
	}
	return digest, nil
}

// Verify hashes the object and returns its absolute path if its content
// matches its digest. A worker calls it before using an input: an object
// that is missing, partial or damaged is an error naming it.
func (s *Store) Verify(digest string) (string, error) {
	if len(digest) != 64 || strings.Trim(digest, "0123456789abcdef") != "" {
		return "", fmt.Errorf("artifact store: %q is not a SHA-256 digest", digest)
	}
	path := s.abs(digest)
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("artifact store: object %s: %w", digest, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("artifact store: object %s: %w", digest, err)
	}
	now := stamp{st.Size(), st.ModTime().UnixNano()}
	s.mu.Lock()
	known, ok := s.verified[digest]
	s.mu.Unlock()
	if ok && known == now {
		return path, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("artifact store: object %s: %w", digest, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest {
		return "", fmt.Errorf("artifact store: object %s is damaged or partial: its content hashes to %s (%d bytes)", path, got, st.Size())
	}
	s.mu.Lock()
	if s.verified == nil {
		s.verified = map[string]stamp{}
	}
	s.verified[digest] = now
	s.mu.Unlock()
	return path, nil
}

// Read returns the verified content of an object.
func (s *Store) Read(digest string) ([]byte, error) {
	path, err := s.Verify(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("artifact store: object %s: %w", digest, err)
	}
	// The file may have changed since it was verified: check what was read.
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != digest {
		return nil, fmt.Errorf("artifact store: object %s changed while read", path)
	}
	return b, nil
}

func (s *Store) abs(digest string) string {
	return filepath.Join(s.Root, filepath.FromSlash(ObjectPath(digest)))
}
