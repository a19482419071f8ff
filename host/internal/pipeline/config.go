// Package pipeline holds the pipeline description a user writes in TOML:
// what to read, how to cut it into flows and chunks, how to encode each
// field, the model and its training budget, privacy, output, metrics and
// plugins. Loading is strict: an unknown key, a wrong type or a missing
// required key is an error naming the file, the line and the key.
package pipeline

import (
	"fmt"
	"github.com/netshare/netshare/host/internal/release"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/gan"
)

// Config is a whole pipeline.
type Config struct {
	// Seed makes the run reproducible: plugins, sampling and training all
	// derive their randomness from it.
	Seed int64 `toml:"seed"`
	// RunDir holds every stage's artifacts; relative to the config file.
	RunDir string `toml:"run_dir"`

	Input   Input       `toml:"input"`
	Flows   Flows       `toml:"flows"`
	Fields  []abi.Field `toml:"fields"`
	Model   Model       `toml:"model"`
	Privacy Privacy     `toml:"privacy"`
	Output  Output      `toml:"output"`
	Release Release     `toml:"release"`
	Metrics []Metric    `toml:"metrics"`
	Plugins Plugins     `toml:"plugins"`
	Cluster Cluster     `toml:"cluster"`

	// Source is where the config came from ("embedded default" or a path),
	// and Dir the directory relative paths are resolved against.
	Source string `toml:"-"`
	Dir    string `toml:"-"`
	// Text is the effective TOML (after --set overrides), kept for the
	// report and for change detection.
	Text string `toml:"-"`
}

// Input says what to read. Several paths are epochs of one trace, merged
// by time.
type Input struct {
	Paths []string `toml:"paths"`
	// Format names a format component; empty detects it from the content.
	Format string `toml:"format"`
	// Params go to the format's decoder (e.g. a CSV column mapping).
	Params map[string]any `toml:"params"`
	// Holdout keeps a seeded random fraction of the flows out of
	// training, for privacy audits.
	Holdout float64 `toml:"holdout"`
}

// Flows says how records group into flows and the trace into chunks.
type Flows struct {
	// Key lists the columns whose values identify a flow.
	Key []string `toml:"key"`
	// Chunks is the number of chunks the trace is cut into.
	Chunks int `toml:"chunks"`
	// Chunking is "time" (equal time spans) or "size" (equal record counts).
	Chunking string `toml:"chunking"`
	// MaxFlowLen truncates flows within a chunk; 0 means the longest flow
	// of any chunk.
	MaxFlowLen int `toml:"max_flow_len"`
	// Direction is "auto" (also when empty), "bidirectional" (a flow is
	// a conversation, each record carries its direction) or "directed"
	// (one flow per direction, as NetShare).
	Direction string `toml:"direction"`
	// Sessions is "auto" (also when empty: "complete" without privacy,
	// "as-generated" under it), "complete" (generated TCP conversations
	// get handshakes and teardowns as often as the real trace has them,
	// docs/pcap.md) or "as-generated". Only generation reads it, so it
	// stays out of the JSON the encode stage's key hashes: changing it
	// regenerates without retraining.
	Sessions string `toml:"sessions" json:"-"`
}

// CompleteSessions says whether generation completes TCP sessions to the
// real trace's rates (Flows.Sessions): those rates are read from the
// private records outside the DP accountant, so not under privacy.
func (c *Config) CompleteSessions() bool {
	return c.Flows.Sessions == "complete" || (c.Flows.Sessions != "as-generated" && !c.Privacy.Enabled)
}

// Model is the GAN's hyper-parameters plus the training budget.
type Model struct {
	gan.Config
	// Steps is the number of training iterations for chunk 0; 0 (the
	// default) derives it from TimeBudget.
	Steps int `toml:"steps"`
	// TimeBudget is how long training takes when Steps is 0: split
	// between chunk 0 and the fine-tunes, turned into steps by timing the
	// model on the trace (docs/pipeline.md).
	TimeBudget Duration `toml:"time_budget"`
	// FinetuneFraction of Steps trains each later chunk, starting from
	// chunk 0's weights.
	FinetuneFraction float64 `toml:"finetune_fraction"`
	// CheckpointEvery steps a checkpoint is written (and at the end).
	CheckpointEvery int `toml:"checkpoint_every"`
	// Workers train chunks in parallel; 0 means one per CPU.
	Workers int `toml:"workers"`
	// LogEvery steps a line of losses goes to the run's loss log.
	LogEvery int `toml:"log_every"`
	// Calibrate says whether generation matches each discrete output's
	// category shares, which categories of dependent heads go together,
	// the continuous features' quantiles and the flows per new address to
	// the training data's (package calibrate): "on", "off", or "auto",
	// which calibrates without DP only (all are read from the private data
	// outside the accountant). Generation alone: not part of training's
	// key.
	Calibrate string `toml:"calibrate" json:"-"`
}

// Calibrated reports whether generation calibrates the discrete outputs
// ("auto" resolved).
func (c *Config) Calibrated() bool {
	return c.Model.Calibrate == "on" || (c.Model.Calibrate == "auto" && !c.Privacy.Enabled)
}

// Privacy configures DP-SGD on the critics.
type Privacy struct {
	Enabled bool `toml:"enabled"`
	// Epsilon is the target budget; training stops before exceeding it.
	Epsilon float64 `toml:"epsilon"`
	Delta   float64 `toml:"delta"`
	// Clip is the per-example gradient norm bound C.
	Clip float64 `toml:"clip"`
	// Noise is the noise multiplier σ; 0 derives it from Epsilon and the
	// training plan.
	Noise float64 `toml:"noise"`
	// Pretrained is a run directory or model file trained on public data
	// to start from (NetShare's public pretraining).
	Pretrained string `toml:"pretrained"`
	// Marginals lists integer attribute columns (ports) whose histogram
	// over flows is released with the Gaussian mechanism, within Epsilon,
	// and imposed on the generated flows (docs/privacy.md, "DP marginals").
	Marginals []string `toml:"marginals"`
	// InsecureReproducibleNoise draws DP noise, batches and flow counts
	// from the public seed so that a test can replay a run. It voids the
	// guarantee: the run's privacy.json and report say it is not private.
	InsecureReproducibleNoise bool `toml:"insecure_reproducible_noise"`
	// Copies says what generation does with synthetic flows whose key is
	// exactly a training flow's: "redraw" one key field, "drop" them,
	// "keep" them, or "auto", which redraws without DP and keeps under DP
	// (either consults the private data outside the accountant).
	Copies string `toml:"copies"`
}

// CopyGuard is what generation does with exact copies of training flow
// keys: "redraw", "drop" or "keep" ("auto" resolved).
func (p Privacy) CopyGuard() string {
	switch {
	case p.Copies != "auto":
		return p.Copies
	case p.Enabled:
		return "keep"
	}
	return "redraw"
}

// Output says what to write.
type Output struct {
	// Format names a format component; empty means the input's format.
	Format string `toml:"format"`
	// Path of the synthetic trace; relative to the run directory.
	Path   string         `toml:"path"`
	Params map[string]any `toml:"params"`
}

// Release says what may leave the data holder's site and on what
// conditions: RUN_DIR/release/ gets only what passes (docs/privacy.md).
type Release struct {
	// MaxEpsilon, when > 0, requires a private run with ε at most this.
	MaxEpsilon float64 `toml:"max_epsilon"`
	// RequireAudit requires every privacy-audit check to pass.
	RequireAudit bool `toml:"require_audit"`
	// Artifacts are what may leave: synthetic, model, report.
	Artifacts []string `toml:"artifacts"`
}

// Metric is one fidelity metric to compute.
type Metric struct {
	Name   string         `toml:"name"`
	Params map[string]any `toml:"params"`
}

// Plugins configures the plugin runtime and extra modules.
type Plugins struct {
	CacheDir    string   `toml:"cache_dir"`
	MemoryMiB   int      `toml:"memory_mib"`
	CallTimeout Duration `toml:"call_timeout"`
	Modules     []Module `toml:"module"`
}

// Cluster says where the pipeline runs: on this machine (the default) or
// as a Temporal workflow whose chunks train on workers.
type Cluster struct {
	// Engine is "local" or "temporal".
	Engine    string `toml:"engine"`
	Address   string `toml:"address"`    // Temporal frontend, host:port
	Namespace string `toml:"namespace"`  // Temporal namespace
	TaskQueue string `toml:"task_queue"` // the queue workers poll
	// Artifacts is a directory every worker reaches (a shared file
	// system) or an s3://bucket/prefix URL: run directories and artifacts
	// live there.
	Artifacts string `toml:"artifacts"`
	// TLS and APIKeyFile secure the connection to Temporal. They name
	// files: the secrets stay in them or in the environment.
	TLS        ClusterTLS `toml:"tls"`
	APIKeyFile string     `toml:"api_key_file"`
}

// Module is an extra plugin module.
type Module struct {
	Path        string   `toml:"path"`
	SHA256      string   `toml:"sha256"`
	MemoryMiB   int      `toml:"memory_mib"`
	CallTimeout Duration `toml:"call_timeout"`
}

// Duration is a time.Duration written as a string ("30s", "2m").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration like \"30s\" or \"2m\": %w", err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// autoSized is NetShare's model with the network sizes left to the trace
// (0: the run sizes them, docs/pipeline.md) and DoppelGANger's learning
// rate, 1e-3: at a budget of minutes it learns much faster than NetShare's
// 1e-4, and a budget of minutes is the default. The generator's moving
// average generates (docs/gan.md; docs/fidelity.md, ablation table): its
// warm-up makes it span about the last tenth of training, up to 1,000
// steps. Batches of 200 flows instead of NetShare's 100: at equal time
// (half the steps) more joint pairs beat the naive sampler on four of six
// runs over five traces and none on fewer, and the marginals held
// (docs/fidelity.md, ablation table).
func autoSized(c gan.Config) gan.Config {
	c.AttrGenLayers, c.AttrGenUnits, c.LSTMUnits = 0, 0, 0
	c.CriticLayers, c.CriticUnits, c.AttrCriticLayers, c.AttrCriticUnits = 0, 0, 0, 0
	c.LearningRate = 1e-3
	c.EMA = 0.999
	c.BatchSize = 200
	return c
}

// Default returns the settings every pipeline starts from; a file only
// states what differs.
func Default() Config {
	return Config{
		Seed:   1,
		RunDir: "runs/netshare",
		Flows: Flows{
			Key:      []string{"srcip", "dstip", "srcport", "dstport", "proto"},
			Chunks:   10,
			Chunking: "time",
			Sessions: "auto",
		},
		Model: Model{
			Config:           autoSized(gan.DefaultConfig()),
			TimeBudget:       Duration{2 * time.Minute},
			FinetuneFraction: 0.25,
			CheckpointEvery:  500,
			LogEvery:         10,
			Calibrate:        "auto",
		},
		Privacy: Privacy{Delta: 1e-5, Clip: 1, Copies: "auto"},
		Output:  Output{Path: "synthetic"},
		Release: Release{Artifacts: []string{release.Synthetic}},
		Plugins: Plugins{},
		Cluster: Cluster{Engine: "local", Address: "localhost:7233", Namespace: "default", TaskQueue: "netshare"},
	}
}

// Keys lists every key path the pipeline understands, for documentation
// and for --set completion.
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous {
				walk(f.Type, prefix)
				continue
			}
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
				walk(ft, prefix+tag+".")
				continue
			}
			out = append(out, prefix+tag)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	sort.Strings(out)
	return out
}

// Resolve makes a path from the config relative to the config's directory.
func (c *Config) Resolve(p string) string {
	if p == "" || strings.HasPrefix(p, "@") || strings.HasPrefix(p, "/") || c.Dir == "" || c.Dir == "." {
		return p
	}
	return c.Dir + "/" + p
}
