package pipeline

import (
	"errors"
	"fmt"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin"
)

// DefaultMetrics, as a [[metrics]] name, stands for the default metric set
// of the records' kind.
const DefaultMetrics = "defaults"

// ValidateComponents checks, before anything runs, that every component
// the pipeline names exists in the loaded modules and accepts its
// parameters, the way a component will see them.
func (c *Config) ValidateComponents(h *plugin.Host) error {
	var errs []error
	check := func(where string, kind abi.Kind, name string, params map[string]any) {
		_, comp, err := h.Find(kind, name)
		if err == nil {
			_, err = comp.ResolveParams(params)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", c.Source, where, err))
		}
	}
	if c.Input.Format != "" {
		check("[input] format", abi.KindFormat, c.Input.Format, c.Input.Params)
	}
	if c.Output.Format != "" {
		check("[output] format", abi.KindFormat, c.Output.Format, c.Output.Params)
	}
	for i, f := range c.Fields {
		check(fmt.Sprintf("[[fields]] #%d (%s)", i+1, f.Name), abi.KindEncoder, f.Encoder, f.Params)
	}
	for i, m := range c.Metrics {
		if m.Name == DefaultMetrics {
			continue
		}
		check(fmt.Sprintf("[[metrics]] #%d", i+1), abi.KindMetric, m.Name, m.Params)
	}
	return errors.Join(errs...)
}
