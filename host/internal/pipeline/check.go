package pipeline

import (
	"slices"

	"errors"
	"fmt"
	"github.com/netshare/netshare/host/internal/release"
	"regexp"
	"strings"

	"github.com/netshare/netshare/abi"
)

// check validates values that decode fine but make no sense.
func (c *Config) check(name string, text []byte) error {
	var errs []error
	bad := func(section, key, format string, args ...any) {
		where := name
		if line := findKeyLine(text, strings.Split(section, "."), key); line > 0 && section != "" {
			where = fmt.Sprintf("%s:%d", name, line)
		}
		errs = append(errs, fmt.Errorf("%s: %s: %s", where, joinKey(section, key), fmt.Sprintf(format, args...)))
	}
	if len(c.Input.Paths) == 0 {
		errs = append(errs, fmt.Errorf("%s: [input] paths is required: name at least one trace file", name))
	}
	if c.Input.Holdout < 0 || c.Input.Holdout >= 1 {
		bad("input", "holdout", "%g is outside [0, 1)", c.Input.Holdout)
	}
	if len(c.Flows.Key) == 0 {
		bad("flows", "key", "is empty: name the columns that identify a flow")
	}
	if c.Flows.Chunks < 1 {
		bad("flows", "chunks", "%d, want ≥ 1", c.Flows.Chunks)
	}
	if c.Flows.Chunking != "time" && c.Flows.Chunking != "size" {
		bad("flows", "chunking", "%q, want \"time\" or \"size\"", c.Flows.Chunking)
	}
	if d := c.Flows.Direction; d != "" && d != "auto" && d != "bidirectional" && d != "directed" {
		bad("flows", "direction", "%q, want \"auto\", \"bidirectional\" or \"directed\"", d)
	}
	switch c.Flows.Sessions {
	case "", "auto", "as-generated":
	case "complete":
		if c.Privacy.Enabled {
			bad("flows", "sessions", "\"complete\" reads the private trace's session statistics outside the DP accountant; use \"auto\" or \"as-generated\" under privacy")
		}
	default:
		bad("flows", "sessions", "%q, want \"auto\", \"complete\" or \"as-generated\"", c.Flows.Sessions)
	}
	if c.Flows.MaxFlowLen < 0 {
		bad("flows", "max_flow_len", "%d, want ≥ 0", c.Flows.MaxFlowLen)
	}
	seen := map[string]bool{}
	for i, f := range c.Fields {
		at := fmt.Sprintf("[[fields]] #%d", i+1)
		switch {
		case f.Name == "":
			errs = append(errs, fmt.Errorf("%s: %s: name is required", name, at))
		case seen[f.Name]:
			errs = append(errs, fmt.Errorf("%s: %s: field %q appears twice", name, at, f.Name))
		}
		seen[f.Name] = true
		if f.Role != abi.RoleAttribute && f.Role != abi.RoleFeature && f.Role != abi.RoleTime {
			errs = append(errs, fmt.Errorf("%s: %s (%s): role %q, want %q, %q or %q", name, at, f.Name, f.Role, abi.RoleAttribute, abi.RoleFeature, abi.RoleTime))
		}
		if f.Encoder == "" {
			errs = append(errs, fmt.Errorf("%s: %s (%s): encoder is required", name, at, f.Name))
		}
	}
	// Sizes left at 0 are the run's to choose from the trace.
	sized := c.Model.Config
	for _, v := range []*int{&sized.AttrGenLayers, &sized.AttrGenUnits, &sized.LSTMUnits, &sized.CriticLayers, &sized.CriticUnits, &sized.AttrCriticLayers, &sized.AttrCriticUnits} {
		if *v == 0 {
			*v = 2
		}
	}
	if err := sized.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: [model]: %w", name, err))
	}
	if c.Model.Steps < 0 {
		bad("model", "steps", "%d, want ≥ 0 (0: from model.time_budget)", c.Model.Steps)
	}
	if c.Model.Steps == 0 && c.Model.TimeBudget.Duration <= 0 {
		bad("model", "time_budget", "%s: set a positive training time, or model.steps", c.Model.TimeBudget.Duration)
	}
	if c.Model.FinetuneFraction <= 0 || c.Model.FinetuneFraction > 1 {
		bad("model", "finetune_fraction", "%g is outside (0, 1]", c.Model.FinetuneFraction)
	}
	if c.Model.CheckpointEvery < 1 {
		bad("model", "checkpoint_every", "%d, want ≥ 1", c.Model.CheckpointEvery)
	}
	if c.Model.Workers < 0 {
		bad("model", "workers", "%d, want ≥ 0", c.Model.Workers)
	}
	switch c.Model.Calibrate {
	case "auto", "off":
	case "on":
		if c.Privacy.Enabled {
			bad("model", "calibrate", "\"on\" reads the private data's category shares and flows per address outside the DP accountant; use \"auto\" or \"off\" under privacy")
		}
	default:
		bad("model", "calibrate", "%q, want \"auto\", \"on\" or \"off\"", c.Model.Calibrate)
	}
	switch c.Privacy.Copies {
	case "auto", "keep":
	case "redraw", "drop":
		if c.Privacy.Enabled {
			bad("privacy", "copies", "%q consults the private data outside the DP accountant; use \"auto\" or \"keep\" under privacy", c.Privacy.Copies)
		}
	default:
		bad("privacy", "copies", "%q, want \"auto\", \"redraw\", \"drop\" or \"keep\"", c.Privacy.Copies)
	}
	if c.Release.MaxEpsilon < 0 {
		bad("release", "max_epsilon", "%g, want ≥ 0 (0: no limit)", c.Release.MaxEpsilon)
	}
	for _, a := range c.Release.Artifacts {
		if !slices.Contains(release.Artifacts, a) {
			bad("release", "artifacts", "unknown artifact %q, want some of %q", a, release.Artifacts)
		}
	}
	if p := c.Privacy; len(p.Marginals) > 0 && !p.Enabled {
		bad("privacy", "marginals", "histograms are released only under privacy.enabled")
	}
	if p := c.Privacy; p.Enabled {
		if p.Epsilon <= 0 && p.Noise <= 0 {
			bad("privacy", "epsilon", "set a target epsilon > 0 or a noise multiplier when privacy is enabled")
		}
		if p.Delta <= 0 || p.Delta >= 1 {
			bad("privacy", "delta", "%g is outside (0, 1)", p.Delta)
		}
		if p.Clip <= 0 {
			bad("privacy", "clip", "%g, want > 0", p.Clip)
		}
		if p.Noise < 0 {
			bad("privacy", "noise", "%g, want ≥ 0", p.Noise)
		}
		if len(p.Marginals) > 0 && p.Epsilon <= 0 {
			bad("privacy", "marginals", "need a target privacy.epsilon: the histograms spend a fixed share of it")
		}
		if c.Flows.MaxFlowLen == 0 && p.Pretrained == "" {
			bad("flows", "max_flow_len", "must be set when privacy is enabled (or taken from privacy.pretrained's public run): the longest flow of the private trace may not shape the model")
		}
	}
	for i, m := range c.Plugins.Modules {
		if m.Path == "" {
			errs = append(errs, fmt.Errorf("%s: [[plugins.module]] #%d: path is required", name, i+1))
		}
		if m.SHA256 != "" && !regexp.MustCompile(`^[0-9a-fA-F]{64}$`).MatchString(m.SHA256) {
			errs = append(errs, fmt.Errorf("%s: [[plugins.module]] #%d: sha256 %q is not 64 hex digits", name, i+1, m.SHA256))
		}
	}
	switch c.Cluster.Engine {
	case "local", "temporal":
	default:
		bad("cluster", "engine", "%q, want \"local\" or \"temporal\"", c.Cluster.Engine)
	}
	if c.Cluster.Engine == "temporal" && c.Cluster.Artifacts == "" {
		bad("cluster", "artifacts", "is required with engine = \"temporal\": name a directory every worker reaches")
	}
	for i, m := range c.Metrics {
		if m.Name == "" {
			errs = append(errs, fmt.Errorf("%s: [[metrics]] #%d: name is required", name, i+1))
		}
	}
	return errors.Join(errs...)
}

func joinKey(section, key string) string {
	if section == "" {
		return key
	}
	return section + "." + key
}
