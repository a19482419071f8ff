package gan

import (
	"os"
	"testing"
)

// TestMain keeps OpenBLAS to one thread: the test models are tiny, and its
// default pool spins on them (no effect with the pure-Go backend).
func TestMain(m *testing.M) {
	SetBLASThreads(1)
	os.Exit(m.Run())
}
