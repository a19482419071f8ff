package run

import (
	"slices"
	"testing"

	"github.com/netshare/netshare/abi"
)

// TestEncoderDefaults: what goes into the encode stage's key changes with
// an encoder's version or a param's default, not with its docs.
func TestEncoderDefaults(t *testing.T) {
	base := abi.Component{Kind: abi.KindEncoder, Name: "rank", Version: "1.0.0", Params: []abi.Param{
		{Name: "heavy", Type: abi.ParamBool, Default: false, Doc: "a"},
		{Name: "min_flows", Type: abi.ParamInt, Default: int64(5)},
	}}
	with := func(f func(c *abi.Component)) abi.Component {
		c := base
		c.Params = slices.Clone(base.Params)
		f(&c)
		return c
	}
	tests := []struct {
		name string
		c    abi.Component
		same bool
	}{
		{"a doc", with(func(c *abi.Component) { c.Params[0].Doc = "b"; c.Summary = "s" }), true},
		{"a default", with(func(c *abi.Component) { c.Params[0].Default = true }), false},
		{"the version", with(func(c *abi.Component) { c.Version = "1.1.0" }), false},
		{"a new param", with(func(c *abi.Component) {
			c.Params = append(c.Params, abi.Param{Name: "x", Type: abi.ParamInt, Default: int64(1)})
		}), false},
	}
	for _, tt := range tests {
		if got := slices.Equal(encoderDefaults(&tt.c), encoderDefaults(&base)); got != tt.same {
			t.Errorf("%s: same key %v, want %v", tt.name, got, tt.same)
		}
	}
}
