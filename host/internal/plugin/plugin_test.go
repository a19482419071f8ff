package plugin

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/netshare/netshare/abi"
)

// testCache shares compiled modules between the tests of this package, so
// only the first test pays for compiling each module.
var testCache = filepath.Join(os.TempDir(), "netshare-test-wazero-cache")

func newTestHost(t testing.TB, opts Options) *Host {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = testCache
	}
	ctx := context.Background()
	h, err := NewHost(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(ctx) })
	return h
}

func TestBuiltinManifest(t *testing.T) {
	h := newTestHost(t, Options{})
	found := false
	for _, e := range h.Manifest() {
		if e.Module != "builtin" {
			t.Errorf("component %s from module %q", e.Component.Name, e.Module)
		}
		if e.Component.Kind == abi.KindEncoder && e.Component.Name == "identity" {
			found = true
		}
	}
	if !found {
		t.Fatal("builtin module does not list the identity encoder")
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	h := newTestHost(t, Options{})
	ctx := context.Background()
	in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: "identity", Column: "x", Params: map[string]any{"activation": "tanh"}})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	hdr, _, err := in.Call(ctx, abi.OpLoad, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(hdr) != `{"outputs":[{"name":"x","width":1,"discrete":false,"activation":"tanh"}]}` {
		t.Fatalf("load reply %s", hdr)
	}
	vals := []float64{-1, 0, 0.25, math.SmallestNonzeroFloat64, 1}
	_, body, err := in.Call(ctx, abi.OpEncVal, nil, abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: vals}}}))
	if err != nil {
		t.Fatal(err)
	}
	_, body, err = in.Call(ctx, abi.OpDecVal, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := abi.DecodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got := b.Column("x").F64[i]; got != v {
			t.Errorf("row %d: got %v want %v", i, got, v)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	h := newTestHost(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name string
		req  abi.OpenRequest
		want string
	}{
		{"unknown component", abi.OpenRequest{Kind: abi.KindEncoder, Name: "identiy"}, `no encoder named "identiy" (did you mean "identity"?)`},
		{"unknown module", abi.OpenRequest{Kind: abi.KindEncoder, Name: "nope/identity"}, `no plugin module "nope" is loaded`},
		{"bad param", abi.OpenRequest{Kind: abi.KindEncoder, Name: "identity", Column: "x", Params: map[string]any{"activaton": "tanh"}}, `has no parameter "activaton" (did you mean "activation"?)`},
		{"component refuses", abi.OpenRequest{Kind: abi.KindEncoder, Name: "builtin/identity", Column: "x", Params: map[string]any{"activation": "relu"}}, `plugin builtin, encoder "identity", open: identity: activation must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Open(ctx, tt.req)
			if err == nil || !contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}
