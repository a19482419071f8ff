package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin/plugintest"
)

// TestHostilePlugins drives purpose-built misbehaving plugins and checks
// that each failure names the module, component and call and says why, and
// that the host carries on afterwards.
func TestHostilePlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Wasm modules")
	}
	ctx := context.Background()
	hostile := plugintest.Build(t, "./testdata/hostile")
	one := abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{{Name: "x", Type: abi.TypeF64, F64: []float64{1}}}})
	// Only the loop needs a short time limit; the others get a long one so
	// a loaded machine cannot turn their failure into a timeout.
	tests := []struct {
		component string
		timeout   time.Duration
		want      []string
	}{
		{"panic", time.Minute, []string{`plugin hostile, encoder "panic", encode-values: panic: boom from the panic encoder`, "main.go"}},
		{"loop", 2 * time.Second, []string{`plugin hostile, encoder "loop", encode-values: call exceeded its time limit of 2s`}},
		{"bomb", time.Minute, []string{`plugin hostile, encoder "bomb", encode-values: module crashed (wasm error: unreachable): fatal error: out of memory`, "memory cap 128 MiB"}},
		{"liar", time.Minute, []string{`plugin hostile, encoder "liar", encode-values: encode-values: the encoder resized its output`}},
		{"fatal", time.Minute, []string{`plugin hostile, encoder "fatal", encode-values: module crashed (wasm error: unreachable): panic: assignment to entry in nil map`, "hostile/main.go:"}},
	}
	for _, tt := range tests {
		t.Run(tt.component, func(t *testing.T) {
			h := newTestHost(t, Options{
				Limits: Limits{MemoryMiB: 128, CallTimeout: tt.timeout},
				Extra:  []ModuleSpec{{Wasm: hostile}},
			})
			in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: tt.component})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := in.Call(ctx, abi.OpLoad, nil, nil); err != nil {
				t.Fatal(err)
			}
			_, _, err = in.Call(ctx, abi.OpEncVal, nil, one)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			// The builtin module is unaffected, and the hostile module
			// itself restarts for the next instance.
			checkIdentity(t, h)
			again, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: "liar"})
			if err != nil {
				t.Fatalf("module did not restart: %v", err)
			}
			again.Close(ctx)
			if tt.component != "panic" && tt.component != "liar" { // errors the module reports and survives
				if _, _, err := in.Call(ctx, abi.OpLoad, nil, nil); err == nil || !strings.Contains(err.Error(), "instance lost") {
					t.Errorf("stale instance: got %v", err)
				}
			}
		})
	}
}

func TestMalformedReplies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Wasm modules")
	}
	ctx := context.Background()
	h := newTestHost(t, Options{Extra: []ModuleSpec{{Wasm: plugintest.Build(t, "./testdata/rawbad")}}})
	for name, want := range map[string]string{
		"outofbounds": `plugin rawbad, encoder "outofbounds", encode-values: malformed data: response at 0xfffffff0 of 64 bytes is outside the module's memory`,
		"badstatus":   `plugin rawbad, encoder "badstatus", encode-values: malformed data: response status 7`,
	} {
		in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := in.Call(ctx, abi.OpEncVal, nil, nil); err == nil || err.Error() != want {
			t.Errorf("%s: got %v\nwant %s", name, err, want)
		}
		checkIdentity(t, h)
	}
}

func TestRefusedModules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Wasm modules")
	}
	ctx := context.Background()
	old := plugintest.Build(t, "./testdata/oldabi")
	hostile := plugintest.Build(t, "./testdata/hostile")
	sum := sha256.Sum256(hostile)
	good := hex.EncodeToString(sum[:])
	tests := []struct {
		name string
		spec ModuleSpec
		want string
	}{
		{"wrong ABI version", ModuleSpec{Name: "oldabi", Wasm: old}, "plugin oldabi: speaks plugin ABI version 99, this host speaks 2"},
		{"sha256 mismatch", ModuleSpec{Name: "pinned", Wasm: hostile, SHA256: strings.Repeat("0", 64)}, "plugin pinned: sha256 is " + good + ", the pipeline pins 0000"},
		{"not wasm", ModuleSpec{Name: "junk", Wasm: []byte("#!/bin/sh\n")}, "plugin junk: not a valid WebAssembly module"},
		{"no exports", ModuleSpec{Name: "empty", Wasm: []byte("\x00asm\x01\x00\x00\x00")}, "plugin empty: does not export netshare_abi_version"},
		{"missing file", ModuleSpec{Path: "testdata/none.wasm"}, "plugin testdata/none.wasm: open testdata/none.wasm: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHost(t, Options{})
			_, err := h.Load(ctx, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
			checkIdentity(t, h)
		})
	}
	// The right pin loads.
	h := newTestHost(t, Options{})
	if _, err := h.Load(ctx, ModuleSpec{Wasm: hostile, SHA256: strings.ToUpper(good)}); err != nil {
		t.Fatal(err)
	}
}

func checkIdentity(t *testing.T, h *Host) {
	t.Helper()
	ctx := context.Background()
	in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: "identity", Column: "x"})
	if err != nil {
		t.Fatalf("builtin module broken after a hostile call: %v", err)
	}
	defer in.Close(ctx)
	if _, _, err := in.Call(ctx, abi.OpLoad, nil, nil); err != nil {
		t.Fatalf("builtin module broken after a hostile call: %v", err)
	}
}
