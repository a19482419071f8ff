package encoding

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/netshare/netshare/abi"
	_ "github.com/netshare/netshare/builtin/encoder/all"
	"github.com/netshare/netshare/internal/suggest"
	"github.com/netshare/netshare/sdk"
)

// nativeRuntime runs the builtin encoders in-process through
// sdk.NewDispatcher: the same wire protocol as the Wasm module, without
// compiling it, so most tests stay fast.
type nativeRuntime struct {
	d        *sdk.Dispatcher
	m        abi.Manifest
	fitCalls atomic.Int64 // OpFit calls, to check shared fitting
}

func newNative() *nativeRuntime { return &nativeRuntime{d: sdk.NewDispatcher(), m: sdk.Manifest()} }

func (r *nativeRuntime) Component(name string) (string, abi.Component, error) {
	c, ok := r.m.Find(abi.KindEncoder, name)
	if !ok {
		var names []string
		for _, c := range r.m.Components {
			names = append(names, c.Name)
		}
		return "", abi.Component{}, fmt.Errorf("no encoder named %q%s", name, suggest.DidYouMean(name, names))
	}
	return "native", *c, nil
}

func (r *nativeRuntime) Open(ctx context.Context, req abi.OpenRequest) (Instance, error) {
	_, c, err := r.Component(req.Name)
	if err != nil {
		return nil, err
	}
	if req.Params, err = c.ResolveParams(req.Params); err != nil {
		return nil, err
	}
	in := &nativeInstance{r: r}
	h, _, err := in.Call(ctx, abi.OpOpen, req, nil)
	if err != nil {
		return nil, err
	}
	var rep abi.OpenReply
	if err := json.Unmarshal(h, &rep); err != nil {
		return nil, err
	}
	in.h = rep.Handle
	return in, nil
}

type nativeInstance struct {
	r   *nativeRuntime
	h   uint32
	buf []byte
}

func (in *nativeInstance) Call(_ context.Context, op abi.Op, header any, body []byte) ([]byte, []byte, error) {
	if op == abi.OpFit {
		in.r.fitCalls.Add(1)
	}
	req, err := abi.AppendRequest(nil, header, body)
	if err != nil {
		return nil, nil, err
	}
	h, b, err := abi.SplitResponse(in.r.d.Call(op, in.h, req))
	if err != nil {
		return nil, nil, err
	}
	return append([]byte(nil), h...), append([]byte(nil), b...), nil
}

func (in *nativeInstance) Close(ctx context.Context) error {
	_, _, err := in.Call(ctx, abi.OpClose, nil, nil)
	return err
}

func (in *nativeInstance) Exchange(_ context.Context, op abi.Op, size int, fill func([]byte), read func(h, b []byte) error) error {
	req := abi.AppendRequestHeader(in.buf[:0], nil)
	n := len(req)
	req = append(req, make([]byte, size)...)
	in.buf = req
	fill(req[n:])
	h, b, err := abi.SplitResponse(in.r.d.Call(op, in.h, req))
	if err != nil {
		return err
	}
	return read(h, b)
}
