// Package plugintest builds plugin modules from source for tests.
package plugintest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles the Go plugin in dir (a package path or directory, as
// `go build` takes it, relative to the test's working directory) to Wasm
// with the stock toolchain and returns the module's bytes. Go's build cache
// makes repeated builds cheap.
func Build(t testing.TB, dir string) []byte {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go toolchain not on PATH: cannot build plugin", dir)
	}
	sum := sha256.Sum256([]byte(dir))
	out := filepath.Join(t.TempDir(), hex.EncodeToString(sum[:8])+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, dir)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building plugin %s: %v\n%s", dir, err, b)
	}
	code, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return code
}
