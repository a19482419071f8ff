package word2vec

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// offer offers n sentences of 3 tokens, (i, n+i%7, n+7+i%3): sentence i
// is the i-th offered, which the tests read back from its first token.
func offer(s *sentenceSample, n int) (vocab int) {
	seen := map[int32]bool{}
	for i := 0; i < n; i++ {
		sent := []int32{int32(i), int32(n + i%7), int32(n + 7 + i%3)}
		fresh := 0
		for _, t := range sent {
			if !seen[t] {
				seen[t] = true
				fresh++
			}
		}
		s.add(sent, fresh)
	}
	return len(seen)
}

func TestSentenceSample(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, max int
	}{
		{"under the bound: every sentence, in order", 500, 1000},
		{"at the bound", 1000, 1000},
		{"over the bound", 20000, 1000},
		{"far over the bound", 100000, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSentenceSample(tc.max, 3, 7)
			offer(s, tc.n)
			if got := len(s.kept) / 3; got != min(tc.n, tc.max) {
				t.Fatalf("kept %d sentences, want %d", got, min(tc.n, tc.max))
			}
			if tc.n <= tc.max {
				for i := 0; i < tc.n; i++ {
					if s.kept[3*i] != int32(i) {
						t.Fatalf("sentence %d is %v, want the %d-th offered", i, s.kept[3*i:3*i+3], i)
					}
				}
				return
			}
			// Uniform: the kept sentences' positions average about n/2
			// (standard error n/√(12·max)); a sampler that keeps the first
			// or the last ones is far off.
			var sum float64
			for i := 0; i < len(s.kept); i += 3 {
				sum += float64(s.kept[i])
			}
			mean, se := sum/float64(tc.max), float64(tc.n)/(2*1.7320508*float64(sqrt(tc.max)))
			if d := mean - float64(tc.n)/2; d > 5*se || d < -5*se {
				t.Errorf("kept sentences' mean position %.0f, want %d ± %.0f", mean, tc.n/2, 5*se)
			}
			again := newSentenceSample(tc.max, 3, 7)
			offer(again, tc.n)
			if !slices.Equal(s.kept, again.kept) {
				t.Error("the same seed kept other sentences")
			}
			other := newSentenceSample(tc.max, 3, 8)
			offer(other, tc.n)
			if slices.Equal(s.kept, other.kept) {
				t.Error("another seed kept the same sentences")
			}
		})
	}
}

func sqrt(n int) float64 {
	x := float64(n)
	r := x
	for i := 0; i < 50; i++ {
		r = (r + x/r) / 2
	}
	return r
}

// TestFitSampleBounded fits the encoder itself: memory is bounded by the
// bound and the vocabulary whatever the records, every token still
// trains, and a trace within the bound fits exactly as without it.
func TestFitSampleBounded(t *testing.T) {
	fit := func(records, max int) (*Encoder, []byte) {
		env := envFor("srcport")
		env.Params["max_sentences"] = int64(max)
		e, err := New(env)
		if err != nil {
			t.Fatal(err)
		}
		enc := e.(*Encoder)
		b := synthetic(records)
		for lo := 0; lo < records; lo += 1000 {
			if err := enc.Fit(b.Slice(lo, min(lo+1000, records))); err != nil {
				t.Fatal(err)
			}
		}
		st, err := enc.FitEnd()
		if err != nil {
			t.Fatal(err)
		}
		return enc, st
	}
	_, exact := fit(3000, 3000)
	_, unbounded := fit(3000, 1<<30)
	if !bytes.Equal(exact, unbounded) {
		t.Error("a trace within max_sentences fits differently from one without a bound")
	}
	var lens []int
	for _, n := range []int{2000, 8000, 32000} {
		enc, raw := fit(n, 500)
		lens = append(lens, cap(enc.sample.kept)+cap(enc.sample.first))
		var st State
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		if len(st.TokenValue) != len(enc.keys) {
			t.Errorf("%d records: %d tokens in the state, %d seen", n, len(st.TokenValue), len(enc.keys))
		}
		if !strings.Contains(st.Training, "trained_on=") {
			t.Errorf("%d records over a bound of 500: the state does not say it trained on a sample: %q", n, st.Training)
		}
		// Every token trained: none kept its initial vector, which is
		// tiny before normalisation but, once normalised, random. A
		// token the sample missed would still be counted but never in a
		// sentence; corpus() must have added one.
		corpus := enc.sample.corpus(len(enc.keys))
		has := make([]bool, len(enc.keys))
		for _, id := range corpus {
			has[id] = true
		}
		if i := slices.Index(has, false); i >= 0 {
			t.Errorf("%d records: token %d is in no training sentence", n, i)
		}
	}
	// synthetic's vocabulary is 50 source ports, 4 destination ports and
	// 2 protocols whatever the records: the kept buffers must not grow.
	if lens[2] > lens[0] {
		t.Errorf("the sample's buffers grew with the records: %v elements at 2k, 8k, 32k", lens)
	}
}
