package encoding

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// A prior fitted on a public trace serves the private fit: its fields take
// the public states and are not fitted, values the public trace lacked
// encode as the nearest it had, and a field the prior does not cover is
// still fitted with private = true, so a data-derived fit is refused.
func TestPrior(t *testing.T) {
	ctx := context.Background()
	rt := newNative()
	b := loadUGR(t)
	fields := netflowFields()
	for i := range fields {
		switch fields[i].Name {
		case "proto":
			fields[i].Encoder = "categorical"
		case "ts":
			fields[i].Params = map[string]any{"iat_max": 300.0}
		}
	}
	// The "public" trace: only the TCP records, so the private trace has
	// protocols the public categories lack.
	proto := b.Column("proto")
	var tcp []int32
	for i := 0; i < b.Len(); i++ {
		if proto.Int(i) == 6 {
			tcp = append(tcp, int32(i))
		}
	}
	if len(tcp) == 0 || len(tcp) == b.Len() {
		t.Fatalf("%d of %d records are TCP: the test needs both kinds", len(tcp), b.Len())
	}
	pub := b.Take(tcp)
	public, err := Fit(ctx, rt, Config{Fields: fields, MaxLen: 4, Seed: 2}, pub, split(t, pub, 1))
	if err != nil {
		t.Fatal(err)
	}
	set := split(t, b, 2)
	cfg := Config{Fields: fields, MaxLen: 4, Seed: 1, Private: true, Prior: public.Fields}
	st, err := Fit(ctx, rt, cfg, b, set)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range st.Fields {
		p := public.Fields[i]
		if f.Name != p.Name || string(f.State) != string(p.State) || f.Seed != p.Seed {
			t.Errorf("field %q: state not the public one", f.Name)
		}
		if _, ok := f.Params["private"]; ok {
			t.Errorf("field %q: taken from the prior yet opened with private", f.Name)
		}
	}
	if st.Time == nil || st.Time.Params["private"] != true {
		t.Error("the time field was not fitted privately")
	}

	names := []string{"proto", "type", "srcport", "td"}
	mapped, changed, err := MapUnseen(ctx, rt, st, names, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := b.Len() - len(tcp); changed["proto"] != want {
		t.Errorf("proto: %d records remapped, want the %d non-TCP ones", changed["proto"], want)
	}
	if _, ok := changed["srcport"]; ok {
		t.Error("srcport remapped: word2vec takes the nearest port itself")
	}
	mp := mapped.Column("proto")
	for i := 0; i < mp.Len(); i++ {
		if mp.Int(i) != 6 {
			t.Fatalf("row %d: proto %d after mapping, want TCP, the only public protocol", i, mp.Int(i))
		}
	}
	if b.Column("proto") == mp || slices.Equal(b.Column("proto").U8, mp.U8) {
		t.Error("MapUnseen changed its input or mapped nothing")
	}
	codec, err := Open(ctx, rt, st)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close(ctx)
	if _, err := codec.Encode(ctx, b, set, 0); err == nil || !strings.Contains(err.Error(), "proto") {
		t.Errorf("unmapped records: %v, want the unseen protocol refused", err)
	}
	if _, err := codec.Encode(ctx, mapped, set, 0); err != nil {
		t.Errorf("mapped records: %v", err)
	}

	// A field outside the prior is fitted, privately: refused by name.
	cfg.Prior = slices.DeleteFunc(slices.Clone(public.Fields), func(f FieldState) bool { return f.Name == "byt" })
	if _, err := Fit(ctx, rt, cfg, b, set); err == nil || !strings.Contains(err.Error(), `"byt"`) {
		t.Fatalf("byt outside the prior: %v", err)
	}
	// So is a field the pipeline configures otherwise than the prior.
	cfg.Prior = public.Fields
	cfg.Fields = slices.Clone(fields)
	cfg.Fields[2].Params = map[string]any{"vector_size": 4}
	if _, err := Fit(ctx, rt, cfg, b, set); err == nil || !strings.Contains(err.Error(), `"srcport"`) {
		t.Fatalf("srcport configured otherwise than the prior: %v", err)
	}
}
