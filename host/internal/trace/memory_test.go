package trace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/memguard"
)

// TestReadFailsEarlyUnderMemoryPressure reads a flow CSV under a memory
// limit just above what the process holds: the read must stop part way
// with an error naming the file and the memory, not finish (or be killed).
func TestReadFailsEarlyUnderMemoryPressure(t *testing.T) {
	h := testHost(t)
	var b strings.Builder
	b.WriteString("srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type\n")
	for i := 0; i < 40000; i++ {
		fmt.Fprintf(&b, "%d,%d,%d,443,TCP,%d.0,1.5,10,1200,background\n", 167772160+i, 3232235520+i%300, 1024+i%60000, 1458298072364000+int64(i)*1000)
	}
	path := filepath.Join(t.TempDir(), "flows.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	every, from := checkEvery, checkFrom
	checkEvery, checkFrom = 64<<10, 256<<10
	defer func() { checkEvery, checkFrom = every, from }()

	tests := []struct {
		name    string
		limit   func() int64 // the GOMEMLIMIT to read under
		wantErr bool
	}{
		{"ample", func() int64 { return math.MaxInt64 / 2 }, false},
		// The limit is over the resident set, which the ample read's
		// garbage would pad (its pages are reused, so the pressed read
		// need not grow it): return them to the OS first.
		{"pressed", func() int64 { debug.FreeOSMemory(); return memguard.InUse() + 256<<10 }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", "set by the test")
			old := debug.SetMemoryLimit(tc.limit())
			defer debug.SetMemoryLimit(old)
			recs, st, err := ReadFile(context.Background(), h, path, Options{Format: "netflow-csv"})
			if !tc.wantErr {
				if err != nil || recs.Len() != 40000 {
					t.Fatalf("read %v records: %v", st.Records, err)
				}
				return
			}
			var me *memguard.Error
			if !errors.As(err, &me) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "GOMEMLIMIT") {
				t.Fatalf("got %v, want a memory error naming the file and the limit", err)
			}
			if recs != nil {
				t.Fatal("records returned with the error")
			}
		})
	}
}
