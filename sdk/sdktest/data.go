package sdktest

import (
	"testing"

	"github.com/netshare/netshare/internal/shareddata"
)

// SharedDataPath is shareddata.Lookup.
//
// Deprecated: repository test plumbing, not the plugin kit's; use
// internal/shareddata. Kept only until the branches that still call it
// (pcap, flow and metric tests) are merged and switched.
func SharedDataPath(parts ...string) (string, error) { return shareddata.Lookup(parts...) }

// SharedData is shareddata.Path.
//
// Deprecated: use internal/shareddata (see SharedDataPath).
func SharedData(t testing.TB, parts ...string) string {
	t.Helper()
	return shareddata.Path(t, parts...)
}
