package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStorePutVerifyRead(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "in.bin")
	content := []byte(strings.Repeat("trace bytes ", 1000))
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	tests := []struct {
		name string
		put  func() (string, error)
	}{
		{"file", func() (string, error) { return s.Put(context.Background(), src) }},
		{"file again", func() (string, error) { return s.Put(context.Background(), src) }},
		{"bytes", func() (string, error) { return s.PutBytes(context.Background(), content) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.put()
			if err != nil {
				t.Fatal(err)
			}
			if d != want {
				t.Fatalf("digest %s, want %s", d, want)
			}
			b, err := s.Read(d)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != string(content) {
				t.Fatal("read back other content")
			}
		})
	}
	// Nothing but the object is left in the store (no temporary files).
	var names []string
	filepath.Walk(s.Root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if len(names) != 1 || filepath.Base(names[0]) != want {
		t.Fatalf("store holds %v", names)
	}
}

func TestStoreRefusesDamagedObjects(t *testing.T) {
	content := []byte("the whole object")
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	tests := []struct {
		name   string
		digest string
		damage func(path string) error
		want   string
	}{
		{"partial", digest, func(p string) error { return os.WriteFile(p, content[:5], 0o644) }, "damaged or partial"},
		{"flipped", digest, func(p string) error {
			b := append([]byte(nil), content...)
			b[3] ^= 1
			return os.WriteFile(p, b, 0o644)
		}, "damaged or partial"},
		{"missing", digest, os.Remove, "no such file"},
		{"not a digest", "../../etc/passwd", func(string) error { return nil }, "not a SHA-256 digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.PutBytes(context.Background(), content); err != nil {
				t.Fatal(err)
			}
			// A second process sees the damage even though this one has
			// verified the object before (size or time changed).
			if _, err := s.Verify(digest); err != nil {
				t.Fatal(err)
			}
			p := s.abs(digest)
			os.Chmod(p, 0o644)
			if err := tc.damage(p); err != nil {
				t.Fatal(err)
			}
			_, err = s.Read(tc.digest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			// Putting the content again repairs the object.
			if tc.digest == digest {
				if _, err := s.PutBytes(context.Background(), content); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Read(digest); err != nil {
					t.Fatalf("after repair: %v", err)
				}
			}
		})
	}
}

func TestNewStoreNeedsADirectory(t *testing.T) {
	if _, err := NewStore(""); err == nil || !strings.Contains(err.Error(), "artifacts") {
		t.Fatalf("got %v", err)
	}
}
