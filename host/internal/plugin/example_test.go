package plugin

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin/plugintest"
)

// TestExamplePlugin builds plugins/ttlbucket with the stock toolchain and
// drives it through the host the way the pipeline does: fit, load, encode,
// decode.
func TestExamplePlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Wasm module")
	}
	ctx := context.Background()
	h := newTestHost(t, Options{Extra: []ModuleSpec{{Wasm: plugintest.Build(t, "../../../plugins/ttlbucket")}}})
	in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: "ttl-bucket", Column: "ttl"})
	if err != nil {
		t.Fatal(err)
	}
	ttls := []uint8{63, 63, 60, 128, 120, 120, 1, 250}
	batch := abi.AppendBatch(nil, &abi.Batch{Columns: []abi.Column{{Name: "ttl", Type: abi.TypeU8, U8: ttls}}})
	if _, _, err := in.Call(ctx, abi.OpFit, nil, batch); err != nil {
		t.Fatal(err)
	}
	_, state, err := in.Call(ctx, abi.OpFitEnd, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, err := in.Call(ctx, abi.OpLoad, nil, state)
	if err != nil {
		t.Fatal(err)
	}
	var load abi.LoadReply
	if err := json.Unmarshal(hdr, &load); err != nil {
		t.Fatal(err)
	}
	if len(load.Outputs) != 1 || load.Outputs[0].Width != 4 || !load.Outputs[0].Discrete {
		t.Fatalf("outputs %+v", load.Outputs)
	}
	_, m, err := in.Call(ctx, abi.OpEncVal, nil, batch)
	if err != nil {
		t.Fatal(err)
	}
	_, out, err := in.Call(ctx, abi.OpDecVal, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := abi.DecodeBatch(out)
	if err != nil {
		t.Fatal(err)
	}
	// Each TTL decodes to the most common TTL of its bucket.
	// Bucket ≤64 holds 63 (twice) and 60; ≤128 holds 128 and 120 (twice);
	// ≤32 and ≤255 hold one value each.
	want := []uint8{63, 63, 63, 120, 120, 120, 1, 250}
	for i, w := range want {
		if got := b.Column("ttl").U8[i]; got != w {
			t.Errorf("row %d (ttl %d): decoded %d, want %d", i, ttls[i], got, w)
		}
	}
	// Its parameters are validated by the host before the plugin sees them.
	_, err = h.Open(ctx, abi.OpenRequest{Kind: abi.KindEncoder, Name: "ttl-bucket", Column: "ttl", Params: map[string]any{"bounds": []any{int64(64), int64(32)}}})
	if err == nil {
		t.Fatal("descending bounds accepted")
	}
}
