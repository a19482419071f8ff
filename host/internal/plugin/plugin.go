// Package plugin runs netshare's WebAssembly plugins: the embedded builtin
// module and any module a pipeline names. Every module runs in its own
// sandbox (wazero, compiled mode): no filesystem, no network, a fake clock,
// entropy only from a seed the host passes, a memory cap and a time limit
// per call. A plugin that panics, loops, allocates past its cap or answers
// garbage produces an error naming the module, component and call; its
// module is restarted on the next use, and other modules are unaffected.
package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin"
	"github.com/netshare/netshare/internal/suggest"
)

// Limits bound what one module may use.
type Limits struct {
	// MemoryMiB caps the module's linear memory.
	MemoryMiB int `toml:"memory_mib"`
	// CallTimeout bounds one call into the module. Negative means no
	// limit: the module then runs without the termination checks wazero
	// compiles into every loop to enforce one.
	CallTimeout time.Duration `toml:"call_timeout"`
}

// DefaultLimits apply where neither the pipeline nor the module spec says
// otherwise. 1 GiB fits word2vec on a million records; a minute fits any
// batch-sized call by orders of magnitude.
var DefaultLimits = Limits{MemoryMiB: 1024, CallTimeout: time.Minute}

func (l Limits) orDefault(d Limits) Limits {
	if l.MemoryMiB <= 0 {
		l.MemoryMiB = d.MemoryMiB
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = d.CallTimeout
	}
	return l
}

// ModuleSpec names a module to load.
type ModuleSpec struct {
	// Name identifies the module in errors and listings; it defaults to
	// the manifest's module name.
	Name string
	// Path is the .wasm file; ignored when Wasm is set.
	Path string
	Wasm []byte
	// SHA256, when set, pins the module: a file with another digest is
	// refused.
	SHA256 string
	Limits Limits
}

// Options configure a Host.
type Options struct {
	// CacheDir holds compiled modules between runs. Empty means the
	// user's cache directory; "off" disables the cache.
	CacheDir string
	// Limits are the defaults for every module (zero fields: DefaultLimits).
	Limits Limits
	// Extra modules to load after the builtin one.
	Extra []ModuleSpec
	// NoBuiltin skips the embedded module (tests of hostile modules).
	NoBuiltin bool
}

// Host holds the loaded modules.
type Host struct {
	cache   wazero.CompilationCache
	limits  Limits
	modules []*Module
}

// NewHost loads the builtin module and opts.Extra.
func NewHost(ctx context.Context, opts Options) (*Host, error) {
	h := &Host{limits: opts.Limits.orDefault(DefaultLimits)}
	switch dir := opts.CacheDir; dir {
	case "off":
	default:
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				base = os.TempDir()
			}
			dir = filepath.Join(base, "netshare", "wazero")
		}
		c, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return nil, fmt.Errorf("plugin cache %s: %w", dir, err)
		}
		h.cache = c
	}
	if !opts.NoBuiltin {
		// The builtin module is netshare's own code, embedded and built
		// from this repository: it keeps the memory cap but has no call
		// time limit, whose loop checks cost 2.5–3× on hot decoders
		// (measured on pcap decoding with host/cmd/decodebench).
		trusted := Limits{MemoryMiB: h.limits.MemoryMiB, CallTimeout: -1}
		if _, err := h.Load(ctx, ModuleSpec{Name: builtin.Name, Wasm: builtin.Wasm, Limits: trusted}); err != nil {
			h.Close(ctx)
			return nil, err
		}
	}
	for _, spec := range opts.Extra {
		if _, err := h.Load(ctx, spec); err != nil {
			h.Close(ctx)
			return nil, err
		}
	}
	return h, nil
}

// Load compiles and starts a module, checks its ABI version and reads its
// manifest.
func (h *Host) Load(ctx context.Context, spec ModuleSpec) (*Module, error) {
	label := spec.Name
	if label == "" {
		label = spec.Path
	}
	code := spec.Wasm
	if code == nil {
		var err error
		if code, err = os.ReadFile(spec.Path); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", label, err)
		}
	}
	sum := sha256.Sum256(code)
	digest := hex.EncodeToString(sum[:])
	if spec.SHA256 != "" && !strings.EqualFold(spec.SHA256, digest) {
		return nil, fmt.Errorf("plugin %s: sha256 is %s, the pipeline pins %s: refusing to load it", label, digest, spec.SHA256)
	}
	m, err := newModule(ctx, label, code, digest, spec.Limits.orDefault(h.limits), h.cache)
	if err != nil {
		return nil, err
	}
	if spec.Name == "" {
		m.name = m.manifest.Module
	}
	for _, other := range h.modules {
		if other.name == m.name {
			m.close(ctx)
			return nil, fmt.Errorf("plugin %s: a module of that name is already loaded", m.name)
		}
	}
	h.modules = append(h.modules, m)
	return m, nil
}

// Modules returns the loaded modules in load order.
func (h *Host) Modules() []*Module { return h.modules }

// Entry is one component with the module that provides it.
type Entry struct {
	Module    string
	SHA256    string
	Component abi.Component
}

// Manifest lists every component of every module, sorted by kind and name.
func (h *Host) Manifest() []Entry {
	var out []Entry
	for _, m := range h.modules {
		for _, c := range m.manifest.Components {
			out = append(out, Entry{Module: m.name, SHA256: m.sha256, Component: c})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Component, out[j].Component
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out
}

// Find resolves a component name. "module/name" picks a module; a bare
// name resolves to the module loaded last that provides it, so a module
// named in the pipeline replaces a builtin component of the same name.
func (h *Host) Find(kind abi.Kind, name string) (*Module, *abi.Component, error) {
	modName, compName, qualified := strings.Cut(name, "/")
	if !qualified {
		compName, modName = name, ""
	}
	var names []string
	for i := len(h.modules) - 1; i >= 0; i-- {
		m := h.modules[i]
		if qualified && m.name != modName {
			continue
		}
		if c, ok := m.manifest.Find(kind, compName); ok {
			return m, c, nil
		}
	}
	for _, e := range h.Manifest() {
		if e.Component.Kind == kind {
			names = append(names, e.Component.Name)
		}
	}
	if qualified && h.module(modName) == nil {
		return nil, nil, fmt.Errorf("no plugin module %q is loaded", modName)
	}
	return nil, nil, fmt.Errorf("no %s named %q%s", kind, name, suggest.DidYouMean(compName, names))
}

func (h *Host) module(name string) *Module {
	for _, m := range h.modules {
		if m.name == name {
			return m
		}
	}
	return nil
}

// Open validates req.Params against the component's declaration and
// creates an instance of it.
func (h *Host) Open(ctx context.Context, req abi.OpenRequest) (*Instance, error) {
	m, c, err := h.Find(req.Kind, req.Name)
	if err != nil {
		return nil, err
	}
	req.Name = c.Name
	params, err := c.ResolveParams(req.Params)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", m.name, err)
	}
	req.Params = params
	return m.open(ctx, *c, req)
}

// Close stops every module.
func (h *Host) Close(ctx context.Context) error {
	var errs []error
	for _, m := range h.modules {
		errs = append(errs, m.close(ctx))
	}
	h.modules = nil
	if h.cache != nil {
		errs = append(errs, h.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

// CallError is an error from a plugin call, naming where it happened.
type CallError struct {
	Module    string
	Component string // kind and name, e.g. `encoder "ip-bits"`; empty for module-level calls
	Op        abi.Op
	Err       error
}

func (e *CallError) Error() string {
	where := "plugin " + e.Module
	if e.Component != "" {
		where += ", " + e.Component
	}
	return fmt.Sprintf("%s, %s: %v", where, e.Op, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }
