// Package shareddata finds the real traces the repository's tests use:
// ../shared/data beside the repository, which a checkout may lack. It is
// test plumbing of this repository, not part of the plugin kit.
package shareddata

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Lookup returns the path of parts under the shared test data
// folder that sits beside the repository (../shared/data next to the
// directory holding go.mod, found from the working directory, which is a
// package's own during go test), or an error when it is absent.
func Lookup(parts ...string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared", "data"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

// Path is Lookup skipping the test when the data is absent
// (a checkout without ../shared beside it).
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	p, err := Lookup(parts...)
	if err != nil {
		t.Skipf("shared test data absent: %v", err)
	}
	return p
}
