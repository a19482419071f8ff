// Package metrictest drives a registered metric through the sdk's native
// dispatcher, i.e. the exact wire protocol the host speaks, for the
// metrics' tests.
package metrictest

import (
	"encoding/json"
	"fmt"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/sdk"
)

// Run opens metric name with params, streams the real then the synthetic
// batches in, and returns its scores.
func Run(name string, params map[string]any, real, syn []*abi.Batch) (abi.Scores, error) {
	d := sdk.NewDispatcher()
	h, _, err := call(d, abi.OpOpen, 0, abi.OpenRequest{Kind: abi.KindMetric, Name: name, Params: params, Seed: 1}, nil)
	if err != nil {
		return abi.Scores{}, err
	}
	var reply abi.OpenReply
	if err := json.Unmarshal(h, &reply); err != nil {
		return abi.Scores{}, fmt.Errorf("open reply: %w", err)
	}
	for _, b := range real {
		if _, _, err := call(d, abi.OpAddReal, reply.Handle, nil, abi.AppendBatch(nil, b)); err != nil {
			return abi.Scores{}, err
		}
	}
	for _, b := range syn {
		if _, _, err := call(d, abi.OpAddSynthetic, reply.Handle, nil, abi.AppendBatch(nil, b)); err != nil {
			return abi.Scores{}, err
		}
	}
	h, _, err = call(d, abi.OpScore, reply.Handle, nil, nil)
	if err != nil {
		return abi.Scores{}, err
	}
	var s abi.Scores
	if err := json.Unmarshal(h, &s); err != nil {
		return abi.Scores{}, fmt.Errorf("score reply: %w", err)
	}
	return s, nil
}

func call(d *sdk.Dispatcher, op abi.Op, handle uint32, header any, body []byte) ([]byte, []byte, error) {
	req, err := abi.AppendRequest(nil, header, body)
	if err != nil {
		return nil, nil, err
	}
	h, b, err := abi.SplitResponse(d.Call(op, handle, req))
	// The dispatcher reuses its response buffer: copy what we keep.
	return append([]byte(nil), h...), append([]byte(nil), b...), err
}

// Batch builds a one-column batch.
func Batch(c abi.Column) *abi.Batch { return &abi.Batch{Columns: []abi.Column{c}} }

// F64 is a float column.
func F64(name string, v ...float64) abi.Column {
	return abi.Column{Name: name, Type: abi.TypeF64, F64: v}
}

// U16 is a u16 column.
func U16(name string, v ...uint16) abi.Column {
	return abi.Column{Name: name, Type: abi.TypeU16, U16: v}
}

// Str is a string column; each value gets its own dictionary entry in
// first-seen order.
func Str(name string, v ...string) abi.Column {
	c := abi.Column{Name: name, Type: abi.TypeString}
	idx := map[string]uint32{}
	for _, s := range v {
		code, ok := idx[s]
		if !ok {
			code = uint32(len(c.Dict))
			idx[s] = code
			c.Dict = append(c.Dict, s)
		}
		c.Codes = append(c.Codes, code)
	}
	return c
}
