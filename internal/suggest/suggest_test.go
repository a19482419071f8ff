package suggest

import "testing"

func TestDidYouMean(t *testing.T) {
	known := []string{"batch_size", "seed", "model", "log1p"}
	for _, tc := range []struct {
		name, want string
	}{
		{"batch_sise", ` (did you mean "batch_size"?)`},
		{"sed", ` (did you mean "seed"?)`},
		{"MODLE", ` (did you mean "model"?)`},
		{"lgo1p", ` (did you mean "log1p"?)`},
		{"xyzzy", ""}, // too far from everything
		{"completely_other", ""},
	} {
		if got := DidYouMean(tc.name, known); got != tc.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := DidYouMean("x", nil); got != "" {
		t.Errorf("no known names: %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"same", "same", 0}, {"ab", "ba", 2},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
