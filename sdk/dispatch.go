package sdk

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/netshare/netshare/abi"
)

// Dispatcher answers netshare_call requests for the registered components.
// The Wasm exports drive one; tests drive one natively to exercise the
// exact protocol the host speaks without a Wasm build.
type Dispatcher struct {
	next      uint32
	instances map[uint32]*instance
	resp      []byte
	body      []byte // scratch for response bodies, reused across calls
}

type instance struct {
	reg  *registration
	mode string
	dec  Reader
	enc  Writer
	fe   FieldEncoder
	met  Metric
	// outs is what the encoder's Load described: the layout of its rows.
	outs        []abi.Output
	hot, values int
	loaded      bool
}

// NewDispatcher returns a dispatcher over the registered components.
func NewDispatcher() *Dispatcher {
	return &Dispatcher{instances: map[uint32]*instance{}}
}

// Call handles one request frame and returns the response frame. The
// returned slice is reused by the next call. A panic in component code is
// recovered and reported as an error response.
func (d *Dispatcher) Call(op abi.Op, handle uint32, req []byte) (resp []byte) {
	d.resp = d.resp[:0]
	defer func() {
		if r := recover(); r != nil {
			resp = abi.AppendError(d.resp[:0], fmt.Sprintf("panic: %v\n%s", r, trimStack(debug.Stack())))
			d.resp = resp
		}
	}()
	header, body, err := abi.SplitRequest(req)
	if err == nil && op == abi.OpEncVal {
		// Encoded rows are written straight into the response.
		resp, err = d.encodeValues(handle, body)
	} else if err == nil {
		var h any
		h, body, err = d.call(op, handle, header, body)
		if err == nil {
			resp, err = abi.AppendResponse(d.resp, h, body)
		}
	}
	if err != nil {
		resp = abi.AppendError(d.resp[:0], err.Error())
	}
	d.resp = resp
	return resp
}

// opKind is the component kind each instance operation belongs to.
var opKind = map[abi.Op]abi.Kind{
	abi.OpDetect: abi.KindFormat, abi.OpRead: abi.KindFormat, abi.OpReadEnd: abi.KindFormat,
	abi.OpWrite: abi.KindFormat, abi.OpWriteEnd: abi.KindFormat,
	abi.OpFit: abi.KindEncoder, abi.OpFitEnd: abi.KindEncoder, abi.OpLoad: abi.KindEncoder,
	abi.OpEncVal: abi.KindEncoder, abi.OpDecVal: abi.KindEncoder,
	abi.OpAddReal: abi.KindMetric, abi.OpAddSynthetic: abi.KindMetric, abi.OpScore: abi.KindMetric,
}

func (d *Dispatcher) call(op abi.Op, handle uint32, header, body []byte) (any, []byte, error) {
	switch op {
	case abi.OpManifest:
		return Manifest(), nil, nil
	case abi.OpOpen:
		var req abi.OpenRequest
		if err := json.Unmarshal(header, &req); err != nil {
			return nil, nil, fmt.Errorf("open: bad header: %w", err)
		}
		h, err := d.open(req)
		return abi.OpenReply{Handle: h}, nil, err
	}
	in, ok := d.instances[handle]
	if !ok {
		return nil, nil, fmt.Errorf("%s: no open instance with handle %d", op, handle)
	}
	if op == abi.OpClose {
		delete(d.instances, handle)
		return nil, nil, nil
	}
	want := opKind[op]
	if want == "" {
		return nil, nil, fmt.Errorf("unknown op %d", uint32(op))
	}
	if in.reg.spec.Kind != want {
		return nil, nil, fmt.Errorf("%s is not a %s operation for %s %q", op, in.reg.spec.Kind, in.reg.spec.Kind, in.reg.spec.Name)
	}
	switch op {
	case abi.OpDetect:
		match := in.reg.format.Detect != nil && in.reg.format.Detect(body)
		return abi.DetectReply{Match: match}, nil, nil
	case abi.OpRead, abi.OpReadEnd:
		if in.dec == nil {
			return nil, nil, fmt.Errorf("%s: instance was opened to %s", op, in.mode)
		}
		if op == abi.OpRead {
			b, err := in.dec.Decode(body)
			return nil, d.batchBytes(b), err
		}
		b, stats, err := in.dec.End()
		return stats, d.batchBytes(b), err
	case abi.OpWrite, abi.OpWriteEnd:
		if in.enc == nil {
			return nil, nil, fmt.Errorf("%s: instance was opened to %s", op, in.mode)
		}
		if op == abi.OpWriteEnd {
			out, err := in.enc.End(nil)
			return nil, out, err
		}
		b, err := abi.DecodeBatch(body)
		if err != nil {
			return nil, nil, err
		}
		out, err := in.enc.Encode(nil, b)
		return nil, out, err
	case abi.OpFit, abi.OpAddReal, abi.OpAddSynthetic:
		b, err := abi.DecodeBatch(body)
		if err != nil {
			return nil, nil, err
		}
		switch op {
		case abi.OpFit:
			return nil, nil, in.fe.Fit(b)
		case abi.OpAddReal:
			return nil, nil, in.met.AddReal(b)
		}
		return nil, nil, in.met.AddSynthetic(b)
	case abi.OpFitEnd:
		state, err := in.fe.FitEnd()
		return nil, state, err
	case abi.OpLoad:
		outs, err := in.fe.Load(body)
		if err != nil {
			in.loaded = false
			return nil, nil, err
		}
		in.outs, in.loaded = outs, true
		in.hot, in.values = abi.Layout(outs)
		return abi.LoadReply{Outputs: outs}, nil, nil
	case abi.OpDecVal:
		if !in.loaded {
			return nil, nil, fmt.Errorf("%s before load", op)
		}
		e, err := abi.DecodeEncoded(body)
		if err != nil {
			return nil, nil, err
		}
		if err := e.Check(in.outs); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", abi.ErrMalformed, err)
		}
		b, err := in.fe.Decode(e)
		if err != nil {
			return nil, nil, err
		}
		if err := b.Check(); err != nil {
			return nil, nil, fmt.Errorf("read produced a bad batch: %w", err)
		}
		return nil, d.batchBytes(b), nil
	case abi.OpScore:
		s, err := in.met.Score()
		return s, nil, err
	}
	return nil, nil, fmt.Errorf("unknown op %d", uint32(op))
}

// encodeValues answers encode-values: the encoder fills rows laid out in
// the response itself, so a million rows are never copied inside the
// module.
func (d *Dispatcher) encodeValues(handle uint32, body []byte) ([]byte, error) {
	in, ok := d.instances[handle]
	if !ok {
		return nil, fmt.Errorf("%s: no open instance with handle %d", abi.OpEncVal, handle)
	}
	if in.fe == nil {
		return nil, fmt.Errorf("%s is not a %s operation for %s %q", abi.OpEncVal, in.reg.spec.Kind, in.reg.spec.Kind, in.reg.spec.Name)
	}
	if !in.loaded {
		return nil, fmt.Errorf("%s before load", abi.OpEncVal)
	}
	b, err := abi.DecodeBatch(body)
	if err != nil {
		return nil, err
	}
	rows := b.Len()
	size := abi.FramePrefix + abi.EncodedSize(rows, in.hot, in.values)
	if cap(d.resp) < size {
		d.resp = make([]byte, 0, size)
	}
	resp := abi.AppendResponseHeader(d.resp[:0], nil)[:size]
	e := abi.PlaceEncoded(resp[abi.FramePrefix:], rows, in.hot, in.values)
	if err := in.fe.Encode(b, e); err != nil {
		return nil, err
	}
	if e.Rows != rows || len(e.Hot) != rows*in.hot || len(e.Values) != rows*in.values {
		return nil, fmt.Errorf("%s: the encoder resized its output", abi.OpEncVal)
	}
	abi.SyncEncoded(resp[abi.FramePrefix:], e)
	return resp, nil
}

func (d *Dispatcher) open(req abi.OpenRequest) (uint32, error) {
	reg, ok := registry[string(req.Kind)+"/"+req.Name]
	if !ok {
		return 0, fmt.Errorf("open: no %s component %q in module %q", req.Kind, req.Name, moduleName)
	}
	params, err := reg.spec.ResolveParams(req.Params)
	if err != nil {
		return 0, err
	}
	env := Env{Params: params, Seed: req.Seed, Column: req.Column}
	in := &instance{reg: reg, mode: req.Mode}
	switch req.Kind {
	case abi.KindFormat:
		switch req.Mode {
		case abi.ModeRead:
			if reg.format.NewReader == nil {
				return 0, fmt.Errorf("format %q cannot read", req.Name)
			}
			in.dec, err = reg.format.NewReader(env)
		case abi.ModeWrite:
			if reg.format.NewWriter == nil {
				return 0, fmt.Errorf("format %q cannot write", req.Name)
			}
			in.enc, err = reg.format.NewWriter(env)
		case "":
			// Detection only.
		default:
			return 0, fmt.Errorf("format %q: unknown mode %q", req.Name, req.Mode)
		}
	case abi.KindEncoder:
		in.fe, err = reg.newEncoder(env)
	case abi.KindMetric:
		in.met, err = reg.newMetric(env)
	}
	if err != nil {
		return 0, err
	}
	d.next++
	d.instances[d.next] = in
	return d.next, nil
}

func (d *Dispatcher) batchBytes(b *abi.Batch) []byte {
	if b == nil {
		b = &abi.Batch{}
	}
	d.body = abi.AppendBatch(d.body[:0], b)
	return d.body
}

// trimStack keeps the frames that are not the sdk's or the runtime's, so a
// panic report points at the component's code.
func trimStack(s []byte) string {
	var keep []string
	lines := strings.Split(string(s), "\n")
	for i := 1; i+1 < len(lines); i += 2 {
		fn := lines[i]
		if strings.HasPrefix(fn, "runtime") || strings.Contains(fn, "/sdk.") || strings.HasPrefix(fn, "panic(") {
			continue
		}
		keep = append(keep, strings.TrimSpace(fn)+" "+strings.TrimSpace(lines[i+1]))
		if len(keep) == 4 {
			break
		}
	}
	return strings.Join(keep, "\n")
}
