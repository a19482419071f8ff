package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/netshare/netshare/abi"
)

// Module is one loaded plugin module. Calls into it are serialised: a Go
// Wasm module is single-threaded.
type Module struct {
	name     string
	sha256   string
	manifest abi.Manifest
	limits   Limits

	rt       wazero.Runtime
	compiled wazero.CompiledModule

	mu     sync.Mutex
	live   *liveModule // nil after a crash, until the next open restarts it
	gen    int         // increments on every start, so stale handles are caught
	stderr stderrLog
}

type liveModule struct {
	mod    api.Module
	mem    api.Memory
	buffer api.Function
	call   api.Function
}

// Name is the module's name.
func (m *Module) Name() string { return m.name }

// SHA256 is the hex digest of the module's bytes.
func (m *Module) SHA256() string { return m.sha256 }

// Manifest is what the module declared.
func (m *Module) Manifest() abi.Manifest { return m.manifest }

// Limits are the limits the module runs under.
func (m *Module) Limits() Limits { return m.limits }

// MemoryBytes is the size of the running module's linear memory: its
// high-water mark since it started, since a Wasm memory never shrinks
// (0 while the module is stopped).
func (m *Module) MemoryBytes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live == nil {
		return 0
	}
	return uint64(m.live.mem.Size())
}

func newModule(ctx context.Context, name string, code []byte, digest string, limits Limits, cache wazero.CompilationCache) (*Module, error) {
	cfg := wazero.NewRuntimeConfigCompiler().
		WithCloseOnContextDone(limits.CallTimeout > 0).
		WithMemoryLimitPages(uint32(limits.MemoryMiB) * 16) // 64 KiB pages
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	m := &Module{name: name, sha256: digest, limits: limits, rt: wazero.NewRuntimeWithConfig(ctx, cfg)}
	fail := func(err error) (*Module, error) {
		m.rt.Close(ctx)
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	// The WASI imports exist so the Go runtime can start; the module config
	// below grants them nothing: no mounts, no environment, no arguments,
	// wazero's fake clocks, and seeded entropy.
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, m.rt); err != nil {
		return fail(err)
	}
	var err error
	if m.compiled, err = m.rt.CompileModule(ctx, code); err != nil {
		return fail(fmt.Errorf("not a valid WebAssembly module: %w", err))
	}
	for _, exp := range []string{abi.ExportVersion, abi.ExportBuffer, abi.ExportCall} {
		if _, ok := m.compiled.ExportedFunctions()[exp]; !ok {
			return fail(fmt.Errorf("does not export %s: not a netshare plugin (build it with the sdk)", exp))
		}
	}
	if err := m.start(ctx, 0); err != nil {
		return fail(err)
	}
	vctx, cancel := m.callContext(ctx)
	res, err := m.live.mod.ExportedFunction(abi.ExportVersion).Call(vctx)
	cancel()
	if err != nil {
		return fail(m.describe(err))
	}
	if v := uint32(res[0]); v != abi.Version {
		return fail(fmt.Errorf("speaks plugin ABI version %d, this host speaks %d: rebuild it with a matching sdk", v, abi.Version))
	}
	h, _, err := m.rawCall(ctx, abi.OpManifest, 0, nil, nil)
	if err != nil {
		return fail(fmt.Errorf("manifest: %w", err))
	}
	if err := json.Unmarshal(h, &m.manifest); err != nil {
		return fail(fmt.Errorf("manifest: %w: %v", abi.ErrMalformed, err))
	}
	if err := m.manifest.Validate(); err != nil {
		return fail(fmt.Errorf("manifest: %w", err))
	}
	return m, nil
}

// start instantiates a fresh copy of the module. Each start gets its own
// seeded entropy so restarts stay deterministic.
func (m *Module) start(ctx context.Context, seed int64) error {
	m.gen++
	m.stderr.reset()
	cfg := wazero.NewModuleConfig().
		WithName(fmt.Sprintf("%s#%d", m.name, m.gen)).
		WithStartFunctions("_initialize").
		WithStderr(&m.stderr).
		WithRandSource(rand.New(rand.NewSource(seed^int64(m.gen)))).
		// The one variable a module sees: a Go module's collector then
		// works harder as its heap nears the cap rather than growing the
		// memory into it (memory never shrinks, so a module that let
		// garbage pile up would die at the cap while its live data fits).
		WithEnv("GOMEMLIMIT", fmt.Sprintf("%dMiB", softMemoryLimitMiB(m.limits.MemoryMiB)))
	ictx, cancel := m.callContext(experimental.WithMemoryAllocator(ctx, newMemoryAllocator()))
	defer cancel()
	mod, err := m.rt.InstantiateModule(ictx, m.compiled, cfg)
	if err != nil {
		return fmt.Errorf("start: %w", m.describe(err))
	}
	m.live = &liveModule{
		mod:    mod,
		mem:    mod.Memory(),
		buffer: mod.ExportedFunction(abi.ExportBuffer),
		call:   mod.ExportedFunction(abi.ExportCall),
	}
	if m.live.mem == nil {
		mod.Close(ctx)
		m.live = nil
		return errors.New("start: module exports no memory")
	}
	return nil
}

// softMemoryLimitMiB is the Go memory limit a module runs under: 7/8 of
// its cap, leaving room for what the runtime holds outside its heap.
func softMemoryLimitMiB(capMiB int) int { return max(1, capMiB-capMiB/8) }

// callContext bounds one call by the module's time limit, if it has one.
func (m *Module) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if m.limits.CallTimeout < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, m.limits.CallTimeout)
}

// rawCall sends one request and returns copies of the response's header
// and body. Any failure other than an error the plugin reported leaves the
// module stopped: its state can no longer be trusted.
func (m *Module) rawCall(ctx context.Context, op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte, error) {
	var rh, rb []byte
	err := m.exchange(ctx, op, handle, header, len(body), func(dst []byte) { copy(dst, body) }, func(h, b []byte) error {
		rh, rb = append([]byte(nil), h...), append([]byte(nil), b...)
		return nil
	})
	return rh, rb, err
}

// exchange is one call without copies: fill writes the request body of
// size bytes straight into the module's buffer, and read sees the
// response's header and body in the module's memory, valid until the
// next call into the module. An error from read is returned as is.
func (m *Module) exchange(ctx context.Context, op abi.Op, handle uint32, header any, size int, fill func([]byte), read func(h, b []byte) error) error {
	if m.live == nil {
		return errors.New("module is stopped after an earlier failure")
	}
	var h []byte
	if header != nil {
		var err error
		if h, err = json.Marshal(header); err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
	}
	ctx, cancel := m.callContext(ctx)
	defer cancel()
	total := abi.RequestSize(len(h), size)
	if uint64(total) > 1<<32-1 {
		return fmt.Errorf("request of %d bytes is too large for a 32-bit module", total)
	}
	res, err := m.live.buffer.Call(ctx, uint64(total))
	if err != nil {
		return m.crash(ctx, err)
	}
	ptr := uint32(res[0])
	mem := m.live.mem
	req, ok := mem.Read(ptr, uint32(total))
	if !ok {
		return m.crash(ctx, fmt.Errorf("%w: request buffer at %#x of %d bytes is outside the module's memory", abi.ErrMalformed, ptr, total))
	}
	prefix := abi.AppendRequestHeader(req[:0], h)
	fill(req[len(prefix):total])
	res, err = m.live.call.Call(ctx, uint64(op), uint64(handle), uint64(total))
	if err != nil {
		return m.crash(ctx, err)
	}
	rptr, rlen := uint32(res[0]>>32), uint32(res[0])
	view, ok := mem.Read(rptr, rlen)
	if !ok {
		return m.crash(ctx, fmt.Errorf("%w: response at %#x of %d bytes is outside the module's memory", abi.ErrMalformed, rptr, rlen))
	}
	rh, rb, err := abi.SplitResponse(view)
	if err != nil {
		var pe *abi.PluginError
		if errors.As(err, &pe) {
			return err
		}
		return m.crash(ctx, err)
	}
	return read(rh, rb)
}

// crash stops the module after a failed call and explains the failure.
func (m *Module) crash(ctx context.Context, err error) error {
	err = m.describe(err)
	if m.live != nil {
		m.live.mod.Close(context.WithoutCancel(ctx))
		m.live = nil
	}
	return err
}

// describe turns wazero's errors into what a user can act on. A Go module
// that dies (an unrecovered panic, a fatal runtime error such as running out
// of memory) traps with "unreachable" after printing the reason to stderr,
// so the reason comes from there rather than from the trap.
func (m *Module) describe(err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("call exceeded its time limit of %s (set [plugins] call_timeout to change it)", m.limits.CallTimeout)
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("call cancelled: %w", context.Canceled)
		}
		return m.withReason(fmt.Sprintf("module exited with code %d", exit.ExitCode()))
	}
	if msg := err.Error(); strings.HasPrefix(msg, "wasm error:") {
		first, _, _ := strings.Cut(msg, "\n")
		return m.withReason("module crashed (" + first + ")")
	}
	return err
}

func (m *Module) withReason(msg string) error {
	if r := m.stderr.reason(); r != "" {
		msg += ": " + r
		if strings.Contains(r, "out of memory") {
			msg += fmt.Sprintf(" (memory cap %d MiB; set [plugins] memory_mib to change it)", m.limits.MemoryMiB)
		}
	}
	return errors.New(msg)
}

func (m *Module) close(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live = nil
	return m.rt.Close(ctx)
}

// Instance is one open component inside a module.
type Instance struct {
	mod    *Module
	comp   abi.Component
	req    abi.OpenRequest
	handle uint32
	gen    int
}

func (m *Module) open(ctx context.Context, c abi.Component, req abi.OpenRequest) (*Instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in := &Instance{mod: m, comp: c, req: req}
	if m.live == nil {
		if err := m.start(ctx, req.Seed); err != nil {
			return nil, in.wrap(abi.OpOpen, err)
		}
	}
	h, _, err := m.rawCall(ctx, abi.OpOpen, 0, req, nil)
	if err != nil {
		return nil, in.wrap(abi.OpOpen, err)
	}
	var reply abi.OpenReply
	if err := json.Unmarshal(h, &reply); err != nil {
		return nil, in.wrap(abi.OpOpen, fmt.Errorf("%w: open reply: %v", abi.ErrMalformed, err))
	}
	in.handle, in.gen = reply.Handle, m.gen
	return in, nil
}

// Component is the component's manifest entry.
func (in *Instance) Component() abi.Component { return in.comp }

// Module is the module the instance lives in.
func (in *Instance) Module() *Module { return in.mod }

// Call performs op on the instance. The returned header and body are
// copies the caller may keep.
func (in *Instance) Call(ctx context.Context, op abi.Op, header any, body []byte) ([]byte, []byte, error) {
	m := in.mod
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live == nil || m.gen != in.gen {
		return nil, nil, in.wrap(op, errors.New("instance lost: its module was stopped after an earlier failure; open it again"))
	}
	h, b, err := m.rawCall(ctx, op, in.handle, header, body)
	if err != nil {
		return nil, nil, in.wrap(op, err)
	}
	return h, b, nil
}

// Close releases the instance inside the module.
func (in *Instance) Close(ctx context.Context) error {
	m := in.mod
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live == nil || m.gen != in.gen {
		return nil
	}
	_, _, err := m.rawCall(ctx, abi.OpClose, in.handle, nil, nil)
	if err != nil {
		return in.wrap(abi.OpClose, err)
	}
	return nil
}

// Exchange is Call without copies, for bulk data: fill writes the
// request body (size bytes) into the module's memory, and read sees the
// response's header and body there; they are valid only until read
// returns. An error read returns is passed back unwrapped.
func (in *Instance) Exchange(ctx context.Context, op abi.Op, size int, fill func(body []byte), read func(header, body []byte) error) error {
	m := in.mod
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.live == nil || m.gen != in.gen {
		return in.wrap(op, errors.New("instance lost: its module was stopped after an earlier failure; open it again"))
	}
	var readErr error
	err := m.exchange(ctx, op, in.handle, nil, size, fill, func(h, b []byte) error {
		readErr = read(h, b)
		return readErr
	})
	if err != nil && err == readErr {
		return err
	}
	if err != nil {
		return in.wrap(op, err)
	}
	return nil
}

func (in *Instance) wrap(op abi.Op, err error) error {
	return &CallError{Module: in.mod.name, Component: fmt.Sprintf("%s %q", in.comp.Kind, in.comp.Name), Op: op, Err: err}
}

// stderrLog keeps the start and the end of what a module wrote to stderr:
// a Go crash report begins with its reason, a chatty module's last lines
// are at the end, and neither may grow host memory without bound.
type stderrLog struct {
	mu         sync.Mutex
	head, tail []byte
}

const logMax = 8 << 10

func (t *stderrLog) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := logMax - len(t.head); room > 0 {
		n := min(room, len(p))
		t.head = append(t.head, p[:n]...)
		p = p[n:]
	}
	t.tail = append(t.tail, p...)
	if len(t.tail) > logMax {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-logMax:]...)
	}
	return len(p), nil
}

func (t *stderrLog) reset() {
	t.mu.Lock()
	t.head, t.tail = t.head[:0], t.tail[:0]
	t.mu.Unlock()
}

// reason returns the crash reason a Go runtime printed ("panic: …",
// "fatal error: …") with the frame that raised it, or else the last lines.
func (t *stderrLog) reason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.head)+string(t.tail)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			out := []string{strings.TrimSpace(l)}
			// The first user frame follows the goroutine header.
			for _, f := range lines[i+1:] {
				f = strings.TrimSpace(f)
				if strings.HasPrefix(f, "/") || strings.Contains(f, ".go:") {
					if !strings.Contains(f, "/runtime/") {
						out = append(out, "at "+strings.Fields(f)[0])
						break
					}
				}
			}
			return strings.Join(out, " ")
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}
