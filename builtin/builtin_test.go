package builtin

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCommittedModuleIsFresh rebuilds the builtin module exactly as
// `go generate ./builtin` does and fails when the committed builtin.wasm
// differs: a change to builtin code must come with its rebuilt module.
func TestCommittedModuleIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the builtin module")
	}
	out := filepath.Join(t.TempDir(), "builtin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, "./module")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the builtin module: %v\n%s", err, b)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, Wasm) {
		t.Fatalf("builtin.wasm is stale (committed %s, fresh build %s): run `go generate ./builtin` and commit the result",
			digest(Wasm), digest(fresh))
	}
}

func digest(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b))[:16] }
