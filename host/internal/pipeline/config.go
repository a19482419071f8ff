// Package pipeline holds the pipeline description a user writes in TOML:
// what to read, how to cut it into flows and chunks, how to encode each
// field, the model and its training budget, privacy, output, metrics and
// plugins. Loading is strict: an unknown key, a wrong type or a missing
// required key is an error naming the file, the line and the key.
package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

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

	Input   Input    `toml:"input"`
	Flows   Flows    `toml:"flows"`
	Fields  []Field  `toml:"fields"`
	Model   Model    `toml:"model"`
	Privacy Privacy  `toml:"privacy"`
	Output  Output   `toml:"output"`
	Metrics []Metric `toml:"metrics"`
	Plugins Plugins  `toml:"plugins"`
	Cluster Cluster  `toml:"cluster"`

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
}

// Field is one column and how the GAN sees it.
type Field struct {
	Name    string         `toml:"name"`
	Role    string         `toml:"role"` // "attribute", "feature" or "time"
	Encoder string         `toml:"encoder"`
	Params  map[string]any `toml:"params"`
}

// Roles of a field.
const (
	RoleAttribute = "attribute" // one value per flow
	RoleFeature   = "feature"   // one value per record
	RoleTime      = "time"      // the timestamp: flow start (attribute) and interarrival (feature)
)

// Model is the GAN's hyper-parameters plus the training budget.
type Model struct {
	gan.Config
	// Steps is the number of training iterations for chunk 0.
	Steps int `toml:"steps"`
	// FinetuneFraction of Steps trains each later chunk, starting from
	// chunk 0's weights.
	FinetuneFraction float64 `toml:"finetune_fraction"`
	// CheckpointEvery steps a checkpoint is written (and at the end).
	CheckpointEvery int `toml:"checkpoint_every"`
	// Workers train chunks in parallel; 0 means one per CPU.
	Workers int `toml:"workers"`
	// LogEvery steps a line of losses goes to the run's loss log.
	LogEvery int `toml:"log_every"`
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
}

// Output says what to write.
type Output struct {
	// Format names a format component; empty means the input's format.
	Format string `toml:"format"`
	// Path of the synthetic trace; relative to the run directory.
	Path   string         `toml:"path"`
	Params map[string]any `toml:"params"`
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
		},
		Model: Model{
			Config:           gan.DefaultConfig(),
			Steps:            2000,
			FinetuneFraction: 0.25,
			CheckpointEvery:  500,
			LogEvery:         10,
		},
		Privacy: Privacy{Delta: 1e-5, Clip: 1},
		Output:  Output{Path: "synthetic"},
		Plugins: Plugins{},
		Cluster: Cluster{Engine: "local", Address: "localhost:7233", Namespace: "default", TaskQueue: "netshare"},
	}
}

// LoadFile reads a pipeline file and applies overrides ("key=value" with
// dotted keys, as --set gives them).
func LoadFile(path string, overrides []string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir := "."
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		dir = path[:i]
	}
	return Parse(path, dir, b, overrides)
}

// Parse reads a pipeline from TOML text. name labels errors; dir resolves
// relative paths.
func Parse(name, dir string, text []byte, overrides []string) (*Config, error) {
	var err error
	if len(overrides) > 0 {
		if text, err = applyOverrides(name, text, overrides); err != nil {
			return nil, err
		}
	}
	cfg := Default()
	md, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&cfg)
	if err != nil {
		return nil, describeDecodeError(name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, unknownKey(name, text, und[0])
	}
	cfg.Source, cfg.Dir, cfg.Text = name, dir, string(text)
	if err := cfg.check(name, text); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func describeDecodeError(name string, err error) error {
	var pe toml.ParseError
	if pp := (*toml.ParseError)(nil); errors.As(err, &pp) {
		pe = *pp
	}
	if errors.As(err, &pe) || pe.Message != "" {
		msg := pe.Message
		if pe.LastKey != "" {
			return fmt.Errorf("%s:%d: key %s: %s", name, pe.Position.Line, pe.LastKey, msg)
		}
		return fmt.Errorf("%s:%d: %s", name, pe.Position.Line, msg)
	}
	// Type mismatches arrive as plain errors in the library's own words.
	if m := typeErrRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: key %s: %s", name, m[1], m[2], m[3])
	}
	return fmt.Errorf("%s: %w", name, err)
}

var typeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]+)"\): (.*)$`)

// unknownKey reports a key no section knows, with its line and the
// closest known key.
func unknownKey(name string, text []byte, key toml.Key) error {
	parent, last := key[:len(key)-1], key[len(key)-1]
	known := knownKeys(reflect.TypeOf(Config{}), parent)
	line := findKeyLine(text, parent, last)
	where := name
	if line > 0 {
		where = fmt.Sprintf("%s:%d", name, line)
	}
	section := "top level"
	if len(parent) > 0 {
		section = "[" + parent.String() + "]"
	}
	return fmt.Errorf("%s: unknown key %q in %s%s", where, last, section, abi.Suggest(last, known))
}

// knownKeys lists the TOML keys of the struct reached by path.
func knownKeys(t reflect.Type, path toml.Key) []string {
	for _, p := range path {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByTag(t, p)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	collectTags(t, &out)
	return out
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			if g, ok := fieldByTag(f.Type, tag); ok {
				return g, true
			}
			continue
		}
		if strings.Split(f.Tag.Get("toml"), ",")[0] == tag {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func collectTags(t reflect.Type, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			collectTags(f.Type, out)
			continue
		}
		if tag := strings.Split(f.Tag.Get("toml"), ",")[0]; tag != "" && tag != "-" {
			*out = append(*out, tag)
		}
	}
}

var headerRE = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`)

// findKeyLine finds the line where key is set inside the table at parent
// (the first occurrence: enough to point a user at the right place).
func findKeyLine(text []byte, parent toml.Key, key string) int {
	table := parent.String()
	cur := ""
	keyRE := regexp.MustCompile(`^\s*(` + regexp.QuoteMeta(key) + `|"` + regexp.QuoteMeta(key) + `")\s*=`)
	dotted := regexp.MustCompile(`^\s*` + regexp.QuoteMeta(table+"."+key) + `\s*=`)
	for i, l := range strings.Split(string(text), "\n") {
		if m := headerRE.FindStringSubmatch(l); m != nil {
			cur = strings.ReplaceAll(m[1], " ", "")
			if cur == joinKey(table, key) {
				return i + 1
			}
			continue
		}
		if cur == table && keyRE.MatchString(l) {
			return i + 1
		}
		if cur == "" && table != "" && dotted.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// applyOverrides sets dotted keys in the TOML text. The value is read as a
// TOML value when it parses as one (numbers, booleans, arrays, quoted
// strings) and as a bare string otherwise.
func applyOverrides(name string, text []byte, overrides []string) ([]byte, error) {
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&doc); err != nil {
		return nil, describeDecodeError(name, err)
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want key=value", o)
		}
		var val any
		var probe map[string]any
		if _, err := toml.Decode("v = "+v, &probe); err == nil {
			val = probe["v"]
		} else {
			val = v
		}
		path := strings.Split(k, ".")
		m := doc
		for i, p := range path[:len(path)-1] {
			next, ok := m[p]
			if !ok {
				nm := map[string]any{}
				m[p], m = nm, nm
				continue
			}
			nm, ok := next.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("--set %s: %s is not a table", k, strings.Join(path[:i+1], "."))
			}
			m = nm
		}
		m[path[len(path)-1]] = val
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
		return nil, fmt.Errorf("--set: %w", err)
	}
	return buf.Bytes(), nil
}

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
		if f.Role != RoleAttribute && f.Role != RoleFeature && f.Role != RoleTime {
			errs = append(errs, fmt.Errorf("%s: %s (%s): role %q, want %q, %q or %q", name, at, f.Name, f.Role, RoleAttribute, RoleFeature, RoleTime))
		}
		if f.Encoder == "" {
			errs = append(errs, fmt.Errorf("%s: %s (%s): encoder is required", name, at, f.Name))
		}
	}
	if err := c.Model.Config.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: [model]: %w", name, err))
	}
	if c.Model.Steps < 1 {
		bad("model", "steps", "%d, want ≥ 1", c.Model.Steps)
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
		if c.Flows.MaxFlowLen == 0 {
			bad("flows", "max_flow_len", "must be set when privacy is enabled: the longest flow of the private trace may not shape the model")
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

// FieldNames lists the configured fields' names in order.
func (c *Config) FieldNames() []string {
	out := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		out[i] = f.Name
	}
	return out
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
