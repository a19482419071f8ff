package word2vec

import (
	"fmt"

	"github.com/netshare/netshare/abi"
)

// Popular values (package popular, docs/encoders.md). Through the shared
// embedding a field's most common values are only points among thousands:
// a generated vector a little off lands on a neighbour, so the head of
// the distribution leaks into the tail (the default run's sample: 443 is
// 31% of real dstports and 14% of synthetic ones). A value that appears in
// at least min_flows distinct flows of a column gets a category of its own
// in a softmax head before the vector; "any other" decodes the vector among
// the remaining values. The vector still encodes every value, so the
// embedding is trained on all rows.

// loadPopular keeps this field's popular values from the state and returns
// them as a set (nil when there are none).
func (e *Encoder) loadPopular(st *State) (map[int64]bool, error) {
	e.popular, e.popIndex = nil, nil
	ci, ok := st.Columns[e.column]
	if !ok || len(ci.Popular) == 0 {
		return nil, nil
	}
	set := make(map[int64]bool, len(ci.Popular))
	e.popIndex = make(map[int64]uint32, len(ci.Popular))
	for k, v := range ci.Popular {
		e.popIndex[v] = uint32(k)
		if set[v] {
			return nil, fmt.Errorf("state lists popular value %d twice", v)
		}
		if e.valueIndex(v) < 0 {
			return nil, fmt.Errorf("state's popular value %d is not a %s token", v, e.kind)
		}
		set[v] = true
	}
	e.popular = ci.Popular
	return set, nil
}

// valueIndex is v's index in e.values, or -1.
func (e *Encoder) valueIndex(v int64) int {
	if j := e.nearest(v); e.values[j] == v {
		return j
	}
	return -1
}

// hotWidth is the number of indices a row has on the wire.
func (e *Encoder) hotWidth() int {
	if len(e.popular) > 0 {
		return 1
	}
	return 0
}

// encodePopular writes each row's category: its value's, or "any other".
func (e *Encoder) encodePopular(c *abi.Column, out *abi.Encoded) error {
	hot := e.hotWidth()
	if out.HotWidth != hot || len(out.Hot) != c.Len()*hot {
		return fmt.Errorf("word2vec %s: encode into %d indices of width %d, want %d rows × %d", e.column, len(out.Hot), out.HotWidth, c.Len(), hot)
	}
	if hot == 0 {
		return nil
	}
	other := uint32(len(e.popular))
	for i := range out.Hot {
		k, ok := e.popIndex[c.Int(i)]
		if !ok {
			k = other
		}
		out.Hot[i] = k
	}
	return nil
}
