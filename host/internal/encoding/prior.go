package encoding

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/netshare/netshare/abi"
)

// priorFor is the state cfg.Prior holds for f: a field of the same name,
// encoder and params (apart from the host-set private and the inlined
// pretrained), or nil. Matching the params too keeps a prior from
// silently replacing a field the pipeline configured differently.
func priorFor(cfg Config, f abi.Field) *FieldState {
	for i := range cfg.Prior {
		p := &cfg.Prior[i]
		if p.Name == f.Name && p.Encoder == f.Encoder && sameParams(p.Params, f.Params) {
			return p
		}
	}
	return nil
}

func sameParams(a, b map[string]any) bool {
	norm := func(m map[string]any) string {
		m = maps.Clone(m)
		delete(m, abi.ParamPrivate)
		delete(m, "pretrained")
		raw, _ := json.Marshal(m) // keys marshal sorted; ints and floats alike
		if string(raw) == "null" {
			return "{}"
		}
		return string(raw)
	}
	return norm(a) == norm(b)
}

// MapUnseen returns records with the values that a field taken from a
// prior (fields, by name) cannot encode replaced by the nearest value it
// can: a public trace's vocabulary need not hold every private value.
// Only fields with one discrete output are at risk (an encoder of
// continuous outputs clamps, word2vec picks the nearest token itself); of
// those, the ones whose encoder refuses a value it has not seen get that
// value's numerically nearest category, or for strings the first. It
// reports how many records each remapped field changed; records itself is
// left as it is.
func MapUnseen(ctx context.Context, rt Runtime, st *State, fields []string, records *abi.Batch) (*abi.Batch, map[string]int, error) {
	out := records
	changed := map[string]int{}
	for _, fs := range st.Fields {
		if !slices.Contains(fields, fs.Name) || len(fs.Outputs) != 1 || !fs.Outputs[0].Discrete {
			continue
		}
		col := records.Column(fs.Name)
		if col == nil || col.Len() == 0 {
			continue
		}
		in, err := open(ctx, rt, fs.Name, fs.Field, fs.Params, fs.Seed)
		if err != nil {
			return nil, nil, err
		}
		mapped, n, err := mapColumn(ctx, in, fs, col)
		in.Close(ctx)
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			continue
		}
		if out == records {
			out = &abi.Batch{Columns: slices.Clone(records.Columns)}
		}
		*out.Column(fs.Name) = *mapped
		changed[fs.Name] = n
	}
	return out, changed, nil
}

// mapColumn encodes col's distinct values with the loaded prior state; if
// the encoder refuses one, it reads the encoder's vocabulary (the values
// its categories decode to) and maps every value outside it.
func mapColumn(ctx context.Context, in Instance, fs FieldState, col *abi.Column) (*abi.Column, int, error) {
	if col.Type != abi.TypeString && !col.Type.IsInt() {
		return nil, 0, nil // no nearest category to take; encoding says what failed
	}
	if _, err := load(ctx, in, fs.Name, fs.State); err != nil {
		return nil, 0, err
	}
	distinct := distinctRows(col)
	probe := &abi.Batch{Columns: []abi.Column{take(col, distinct)}}
	if _, _, err := in.Call(ctx, abi.OpEncVal, nil, abi.AppendBatch(nil, probe)); err == nil {
		return nil, 0, nil
	}
	vocab, err := vocabulary(ctx, in, fs)
	if err != nil {
		return nil, 0, err
	}
	if (vocab.Type == abi.TypeString) != (col.Type == abi.TypeString) {
		return nil, 0, fmt.Errorf("encoding: field %q: the prior's values are %s, the records' %s", fs.Name, vocab.Type, col.Type)
	}
	out := take(col, allRows(col.Len()))
	n := 0
	if col.Type == abi.TypeString {
		known := map[string]bool{}
		for i := 0; i < vocab.Len(); i++ {
			known[vocab.String(i)] = true
		}
		out.Dict = slices.Clone(col.Dict)
		used := make([]int, len(col.Dict))
		for _, c := range col.Codes {
			used[c]++
		}
		for code, s := range out.Dict {
			if !known[s] {
				// Strings have no nearest: take the first category.
				out.Dict[code] = vocab.String(0)
				n += used[code]
			}
		}
		return &out, n, nil
	}
	known := make([]int64, vocab.Len())
	for i := range known {
		known[i] = vocab.Int(i)
	}
	slices.Sort(known)
	for i := 0; i < out.Len(); i++ {
		v := out.Int(i)
		if w := nearest(known, v); w != v {
			SetInt(&out, i, w)
			n++
		}
	}
	return &out, n, nil
}

// vocabulary decodes each category of fs's one discrete output.
func vocabulary(ctx context.Context, in Instance, fs FieldState) (*abi.Column, error) {
	w := fs.Outputs[0].Width
	buf := make([]byte, abi.EncodedSize(w, 1, 0))
	e := abi.PlaceEncoded(buf, w, 1, 0)
	for i := range e.Hot {
		e.Hot[i] = uint32(i)
	}
	abi.SyncEncoded(buf, e)
	_, body, err := in.Call(ctx, abi.OpDecVal, nil, buf)
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: reading the prior's categories: %w", fs.Name, err)
	}
	b, err := abi.DecodeBatch(body)
	if err != nil {
		return nil, fmt.Errorf("encoding: field %q: reading the prior's categories: %w", fs.Name, err)
	}
	return columnOf(b, fs.Name, w)
}

// nearest is the value of sorted closest to v (the lower on a tie).
func nearest(sorted []int64, v int64) int64 {
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i] >= v })
	switch {
	case i == len(sorted):
		return sorted[i-1]
	case sorted[i] == v || i == 0:
		return sorted[i]
	case v-sorted[i-1] <= sorted[i]-v:
		return sorted[i-1]
	}
	return sorted[i]
}

// SetInt sets row i of an integer column (Type.IsInt) to v.
func SetInt(c *abi.Column, i int, v int64) {
	switch c.Type {
	case abi.TypeU8:
		c.U8[i] = uint8(v)
	case abi.TypeU16:
		c.U16[i] = uint16(v)
	case abi.TypeU32, abi.TypeIPv4:
		c.U32[i] = uint32(v)
	default:
		c.I64[i] = v
	}
}

// distinctRows lists one row of each distinct value of col.
func distinctRows(col *abi.Column) []int32 {
	var rows []int32
	if col.Type == abi.TypeString {
		seen := make([]bool, len(col.Dict))
		for i, c := range col.Codes {
			if !seen[c] {
				seen[c] = true
				rows = append(rows, int32(i))
			}
		}
		return rows
	}
	seen := map[int64]bool{}
	for i := 0; i < col.Len(); i++ {
		if v := col.Int(i); !seen[v] {
			seen[v] = true
			rows = append(rows, int32(i))
		}
	}
	return rows
}

func allRows(n int) []int32 {
	rows := make([]int32, n)
	for i := range rows {
		rows[i] = int32(i)
	}
	return rows
}
