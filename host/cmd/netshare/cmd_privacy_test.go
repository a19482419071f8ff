package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestPrivacyCommandJSON(t *testing.T) {
	tutorial := []string{"privacy", "--records", "60000", "--batch", "150", "--noise", "1.3", "--epochs", "15", "--delta", "1e-5", "--public-counts", "--json"}
	tests := []struct {
		name      string
		args      []string
		wantEps   float64
		tol       float64
		wantOrder float64 // 0: any
		wantNoise float64 // 0: no "noise" key
	}{
		{"tutorial", tutorial, 0.7242, 5e-5, 19, 0},
		{"tutorial in steps", []string{"privacy", "--records=60000", "--batch=150", "--noise=1.3", "--steps=6000", "--public-counts", "--json"}, 0.7242, 5e-5, 19, 0},
		{"classic conversion", privacyArgs(tutorial, "--conversion", "classic"), 0.94187, 5e-5, 19, 0},
		{"solve for σ", privacyArgs(tutorial, "--target-epsilon", "0.7242234"), 0.7242234, 1e-6, 19, 1.3},
		{"solve without --noise", []string{"privacy", "--records", "60000", "--batch", "150", "--epochs", "15", "--public-counts", "--target-epsilon", "0.7242234", "--json"}, 0.7242234, 1e-6, 19, 1.3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if rc := run(tt.args, &out, &errb); rc != 0 {
				t.Fatalf("rc %d, stderr %q", rc, errb.String())
			}
			var got map[string]float64
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if math.Abs(got["epsilon"]-tt.wantEps) > tt.tol || (tt.wantOrder != 0 && got["order"] != tt.wantOrder) || got["delta"] != 1e-5 {
				t.Errorf("got %v, want ε %v ± %v at order %v, δ 1e-5", got, tt.wantEps, tt.tol, tt.wantOrder)
			}
			noise, has := got["noise"]
			if has != (tt.wantNoise != 0) || (has && math.Abs(noise-tt.wantNoise) > 1e-4) {
				t.Errorf("noise = %v (present %v), want %v", noise, has, tt.wantNoise)
			}
			keys := 3
			if has {
				keys++
			}
			if len(got) != keys {
				t.Errorf("keys %v, want epsilon, order, delta (and noise when solving)", got)
			}
		})
	}
}

// TestPrivacyCommandComposition checks that chunks, critics and counts each
// raise ε the way the flags say.
func TestPrivacyCommandComposition(t *testing.T) {
	eps := func(extra ...string) float64 {
		args := append([]string{"privacy", "--records", "20000", "--batch", "100", "--noise", "1", "--steps", "2000", "--json"}, extra...)
		var out, errb bytes.Buffer
		if rc := run(args, &out, &errb); rc != 0 {
			t.Fatalf("%v: rc %d, stderr %q", extra, rc, errb.String())
		}
		var got struct{ Epsilon float64 }
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		return got.Epsilon
	}
	public := eps("--public-counts")
	withCount := eps()
	withLengths := eps("--length-histogram")
	twoChunks := eps("--chunks", "2")
	twoCritics := eps("--critics", "2")
	netshare := eps("--critics", "2", "--sharing", "netshare")
	if !(public < withCount && withCount < twoChunks) {
		t.Errorf("ε public counts %v, with count %v, 2 chunks %v: want increasing", public, withCount, twoChunks)
	}
	// Public counts leave the histogram private: it costs what a count does.
	if !(withCount < withLengths) || eps("--public-counts", "--length-histogram") != withCount {
		t.Errorf("ε with count %v, with count and length histogram %v, public counts and histogram %v: want the first two increasing, the last equal to the first",
			withCount, withLengths, eps("--public-counts", "--length-histogram"))
	}
	if !(withCount < twoCritics && twoCritics < netshare) {
		t.Errorf("ε 1 critic %v, 2 critics %v, NetShare σ/2 %v: want increasing", withCount, twoCritics, netshare)
	}
}

func TestPrivacyCommandText(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"privacy", "--records", "60000", "--batch", "150", "--noise", "1.3", "--epochs", "15", "--public-counts"}
	if rc := run(args, &out, &errb); rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	for _, want := range []string{"6000 steps", "q = 0.0025", "ε = 0.724223 at δ = 1e-05 (RDP order 19, tight conversion)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
}

func TestPrivacyCommandErrors(t *testing.T) {
	base := []string{"privacy", "--records", "1000", "--batch", "10", "--noise", "1"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no steps or epochs", base, "exactly one of --steps and --epochs"},
		{"both steps and epochs", privacyArgs(base, "--steps", "5", "--epochs", "1"), "exactly one of --steps and --epochs"},
		{"no records", []string{"privacy", "--batch", "10", "--noise", "1", "--steps", "5"}, "--records"},
		{"no noise", []string{"privacy", "--records", "1000", "--batch", "10", "--steps", "5"}, "--noise"},
		{"three critics", privacyArgs(base, "--steps", "5", "--critics", "3"), "must be 1 or 2"},
		{"zero chunks", privacyArgs(base, "--steps", "5", "--chunks", "0"), "at least 1"},
		{"bad sharing", privacyArgs(base, "--steps", "5", "--sharing", "both"), "--sharing"},
		{"bad conversion", privacyArgs(base, "--steps", "5", "--conversion", "loose"), "--conversion"},
		{"zero count noise", privacyArgs(base, "--steps", "5", "--count-noise", "0"), "--count-noise"},
		{"batch above records", []string{"privacy", "--records", "1000", "--batch", "5000", "--noise", "1", "--steps", "5"}, "batch"},
		{"unreachable target", privacyArgs(base, "--steps", "5", "--target-epsilon", "1"), "out of reach"},
		{"stray argument", privacyArgs(base, "--steps", "5", "extra"), "unexpected arguments"},
		{"unknown flag", privacyArgs(base, "--steps", "5", "--bogus"), "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if rc := run(tt.args, &out, &errb); rc == 0 {
				t.Fatalf("rc 0, stdout %q", out.String())
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.wantErr)
			}
		})
	}
}

// privacyArgs returns a new slice of args followed by more, leaving args alone.
func privacyArgs(args []string, more ...string) []string {
	return append(append([]string(nil), args...), more...)
}
