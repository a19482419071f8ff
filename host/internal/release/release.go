// Package release builds what may leave a data holder's site: the
// RUN_DIR/release/ folder and its release.json, after checking the
// pipeline's [release] conditions against what the run recorded (its
// privacy budget and its privacy audit). It reads only the run directory,
// so `netshare release RUN_DIR` can re-check and rebuild a release from
// an existing run; docs/privacy.md has the data holder's checklist.
package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/netshare/netshare/host/internal/atomicfile"
)

// Artifact names, as [release] artifacts lists them.
const (
	// Synthetic is the synthetic trace.
	Synthetic = "synthetic"
	// Model is each trained chunk's final checkpoint with encoders.json,
	// what generating more synthetic data needs.
	Model = "model"
	// Report is report.html and metrics.json; their real-data curves and
	// statistics are computed from the private trace without noise.
	Report = "report"
)

// Artifacts lists every artifact name.
var Artifacts = []string{Synthetic, Model, Report}

// Dir and File name the release folder and its manifest in a run directory;
// RunFile is the record of the run that the release is checked against.
const (
	Dir     = "release"
	File    = "release.json"
	RunFile = "run.json"
)

// Run is what a run records for its release, in RUN_DIR/run.json.
type Run struct {
	// PipelineSHA256 is the hash of the effective TOML (RUN_DIR/pipeline.toml).
	PipelineSHA256 string `json:"pipeline_sha256"`
	Source         string `json:"source"`
	// Modules are the plugin modules the run loaded, by name.
	Modules []Module `json:"modules"`
	// Synthetic is the synthetic trace, relative to the run directory.
	Synthetic string `json:"synthetic"`
	// Checkpoints are the final checkpoint of each trained chunk,
	// relative to the run directory.
	Checkpoints []string `json:"checkpoints"`
	// Fitted lists the fields whose encoder state in encoders.json was
	// fitted on the run's real data (vocabularies, category tables,
	// bounds): a model released with it carries those values.
	Fitted []Fitted `json:"fitted_on_real_data"`
}

// Module is one loaded plugin module.
type Module struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Fitted is one field whose encoder fitted state on the real data.
type Fitted struct {
	Field   string `json:"field"`
	Encoder string `json:"encoder"`
}

// Privacy is the run's guarantee, from privacy.json.
type Privacy struct {
	Enabled bool    `json:"enabled"`
	Epsilon float64 `json:"epsilon,omitempty"`
	Delta   float64 `json:"delta,omitempty"`
	// NotPrivate says why a DP run's guarantee does not hold.
	NotPrivate string `json:"not_private,omitempty"`
}

// Policy is the pipeline's [release] section.
type Policy struct {
	MaxEpsilon   float64
	RequireAudit bool
	Artifacts    []string
}

// Manifest is release.json.
type Manifest struct {
	Files          []FileHash `json:"files"`
	PipelineSHA256 string     `json:"pipeline_sha256"`
	Modules        []Module   `json:"modules"`
	// Privacy is "ε = …, δ = …" or "not private" with the reason.
	Privacy string  `json:"privacy"`
	Epsilon float64 `json:"epsilon,omitempty"`
	Delta   float64 `json:"delta,omitempty"`
	// Audit is each audit verdict and the values behind it.
	Audit []Verdict `json:"audit"`
	// FittedOnRealData says which released files carry values fitted on
	// the real data, and which.
	FittedOnRealData []string `json:"fitted_on_real_data"`
	Policy           struct {
		MaxEpsilon   float64  `json:"max_epsilon,omitempty"`
		RequireAudit bool     `json:"require_audit"`
		Artifacts    []string `json:"artifacts"`
	} `json:"policy"`
}

// FileHash is one released file.
type FileHash struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Verdict is one audit check: its flag (true: the check failed) and the
// values behind it.
type Verdict struct {
	Check  string             `json:"check"`
	Failed bool               `json:"failed"`
	Values map[string]float64 `json:"values"`
}

// ErrRefused is wrapped by Build's error when a [release] condition
// fails; the message names the condition.
var ErrRefused = errors.New("release refused")

// Build checks policy against the run in runDir and, when every condition
// holds, writes RUN_DIR/release/ with the allowed artifacts and
// release.json. When a condition fails it leaves release/ empty and
// returns an error naming the condition; nothing else in runDir changes.
func Build(runDir string, policy Policy, run Run, priv Privacy, scores map[string]float64) (*Manifest, error) {
	dir := filepath.Join(runDir, Dir)
	m, refusal := check(policy, run, priv, scores)
	if refusal != nil {
		if err := empty(dir); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrRefused, refusal)
	}
	files, err := releasedFiles(runDir, policy.Artifacts, run)
	if err != nil {
		return nil, err
	}
	// Build beside release/ and swap it in, so a crash never leaves a
	// half-written release.
	tmp, err := os.MkdirTemp(runDir, ".release-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, rel := range files {
		h, n, err := copyHashed(filepath.Join(runDir, rel), filepath.Join(tmp, rel))
		if err != nil {
			return nil, fmt.Errorf("release: %s: %w", rel, err)
		}
		m.Files = append(m.Files, FileHash{Path: rel, SHA256: h, Bytes: n})
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, File), append(raw, '\n')); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	return m, nil
}

// check evaluates the policy and fills the manifest's non-file parts.
func check(policy Policy, run Run, priv Privacy, scores map[string]float64) (*Manifest, error) {
	m := &Manifest{PipelineSHA256: run.PipelineSHA256, Modules: run.Modules}
	m.Policy.MaxEpsilon, m.Policy.RequireAudit, m.Policy.Artifacts = policy.MaxEpsilon, policy.RequireAudit, policy.Artifacts
	var fails []string
	switch {
	case !priv.Enabled:
		m.Privacy = "not private: trained without differential privacy"
	case priv.NotPrivate != "":
		m.Privacy = "not private: " + priv.NotPrivate
	default:
		m.Privacy = fmt.Sprintf("ε = %.4g, δ = %g", priv.Epsilon, priv.Delta)
		m.Epsilon, m.Delta = priv.Epsilon, priv.Delta
	}
	if policy.MaxEpsilon > 0 {
		switch {
		case !priv.Enabled || priv.NotPrivate != "":
			fails = append(fails, fmt.Sprintf("release.max_epsilon = %g, but the run is %s", policy.MaxEpsilon, m.Privacy))
		case priv.Epsilon > policy.MaxEpsilon:
			fails = append(fails, fmt.Sprintf("release.max_epsilon = %g, but the run spent ε = %.4g", policy.MaxEpsilon, priv.Epsilon))
		}
	}
	m.Audit = verdicts(scores)
	if policy.RequireAudit {
		if len(m.Audit) == 0 {
			fails = append(fails, "release.require_audit: the run has no audit scores (metrics.json has no audit.*)")
		}
		for _, v := range m.Audit {
			if v.Failed {
				fails = append(fails, fmt.Sprintf("release.require_audit: audit check %s failed (%s)", v.Check, describe(v.Values)))
			}
		}
	}
	for _, a := range policy.Artifacts {
		switch a {
		case Model:
			for _, f := range run.Fitted {
				m.FittedOnRealData = append(m.FittedOnRealData, fmt.Sprintf("encoders.json: field %s (%s encoder)", f.Field, f.Encoder))
			}
			if !priv.Enabled || priv.NotPrivate != "" {
				m.FittedOnRealData = append(m.FittedOnRealData, "model checkpoints: weights trained on the real data without differential privacy")
			}
		case Report:
			m.FittedOnRealData = append(m.FittedOnRealData, "report.html, metrics.json: statistics and curves of the real trace, without noise")
		case Synthetic:
			if !priv.Enabled || priv.NotPrivate != "" {
				m.FittedOnRealData = append(m.FittedOnRealData, "synthetic trace: drawn from a model trained without differential privacy")
			}
		}
	}
	if len(fails) > 0 {
		return nil, errors.New(strings.Join(fails, "; "))
	}
	return m, nil
}

// verdicts groups the audit's scores by check: a score named
// audit.CHECK.flag is that check's verdict, and audit.CHECK.* its values.
// The audit's overall flag (audit.flag) is the OR of the checks.
func verdicts(scores map[string]float64) []Verdict {
	byCheck := map[string]*Verdict{}
	for name, v := range scores {
		rest, ok := strings.CutPrefix(name, "audit.")
		if !ok {
			continue
		}
		check, key, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		vd := byCheck[check]
		if vd == nil {
			vd = &Verdict{Check: check, Values: map[string]float64{}}
			byCheck[check] = vd
		}
		if key == "flag" {
			vd.Failed = v != 0
		} else {
			vd.Values[key] = v
		}
	}
	var out []Verdict
	for _, v := range byCheck {
		// A check that did not run (no holdout) says so with available = 0.
		if a, ok := v.Values["available"]; ok && a == 0 {
			continue
		}
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Check < out[j].Check })
	return out
}

func describe(values map[string]float64) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.4g", k, values[k])
	}
	return strings.Join(parts, ", ")
}

// releasedFiles lists the files of the allowed artifacts, relative to the
// run directory.
func releasedFiles(runDir string, artifacts []string, run Run) ([]string, error) {
	var out []string
	for _, a := range artifacts {
		switch a {
		case Synthetic:
			if run.Synthetic == "" {
				return nil, errors.New("release: the run recorded no synthetic trace")
			}
			out = append(out, run.Synthetic)
		case Model:
			if len(run.Checkpoints) == 0 {
				return nil, errors.New("release: the run recorded no checkpoints")
			}
			out = append(out, run.Checkpoints...)
			out = append(out, "encoders.json")
		case Report:
			out = append(out, "report.html", "metrics.json")
		default:
			return nil, fmt.Errorf("release: unknown artifact %q, want one of %v", a, Artifacts)
		}
	}
	for _, rel := range out {
		if filepath.IsAbs(rel) || strings.HasPrefix(filepath.Clean(rel), "..") {
			return nil, fmt.Errorf("release: %s lies outside the run directory", rel)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// empty leaves dir existing and empty.
func empty(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

func copyHashed(src, dst string) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", 0, err
	}
	out, err := os.Create(dst)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// PipelineHash is the hex sha256 of a pipeline's effective TOML.
func PipelineHash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// SaveRun writes run.json into runDir.
func SaveRun(runDir string, r Run) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(runDir, RunFile), append(raw, '\n'))
}

// LoadRun reads runDir's run.json.
func LoadRun(runDir string) (Run, error) {
	var r Run
	raw, err := os.ReadFile(filepath.Join(runDir, RunFile))
	if err != nil {
		return r, fmt.Errorf("release: %w (is %s a finished run directory?)", err, runDir)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("release: %s: %w", filepath.Join(runDir, RunFile), err)
	}
	return r, nil
}
