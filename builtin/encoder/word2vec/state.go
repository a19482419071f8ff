package word2vec

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// State is the fitted model: every token of every kind with its
// unit-normalised vector.
type State struct {
	VectorSize int `json:"vector_size"`
	// Kinds names the token kinds; TokenKind indexes it.
	Kinds []string `json:"kinds"`
	// Columns gives each sentence column's kind and type.
	Columns    map[string]ColumnInfo `json:"columns"`
	TokenKind  []int                 `json:"token_kind"`
	TokenValue []int64               `json:"token_value"`
	// Vectors is base64 of the little-endian float64 vectors, token by
	// token.
	Vectors  string `json:"vectors"`
	Training string `json:"training,omitempty"`
}

// ColumnInfo describes one sentence column.
type ColumnInfo struct {
	Kind string `json:"kind"`
	// Tokens is base64 of a bit set over the state's tokens (bit i of
	// byte i/8 for token i, least significant first): the tokens this
	// column holds in the fitted data. A field decodes into these only.
	// States written before it existed leave it out; their fields decode
	// into every token of their kind.
	Type   string `json:"type"`
	Tokens string `json:"tokens,omitempty"`
	// Popular are the column's values in many flows, in category order
	// (popular.go); a field of this column gets a category for each.
	Popular []int64 `json:"popular,omitempty"`
}

func encodeFloats(v []float64) string {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func parseState(raw []byte) (*State, []float64, error) {
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, nil, fmt.Errorf("bad state: %w", err)
	}
	if st.VectorSize < 1 {
		return nil, nil, fmt.Errorf("state has vector_size %d", st.VectorSize)
	}
	if len(st.TokenKind) != len(st.TokenValue) {
		return nil, nil, fmt.Errorf("state has %d token kinds and %d token values", len(st.TokenKind), len(st.TokenValue))
	}
	b, err := base64.StdEncoding.DecodeString(st.Vectors)
	if err != nil {
		return nil, nil, fmt.Errorf("state vectors: %w", err)
	}
	if len(b) != 8*st.VectorSize*len(st.TokenKind) {
		return nil, nil, fmt.Errorf("state vectors hold %d bytes, want %d tokens × %d dims × 8", len(b), len(st.TokenKind), st.VectorSize)
	}
	vecs := make([]float64, len(b)/8)
	for i := range vecs {
		vecs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		if math.IsNaN(vecs[i]) || math.IsInf(vecs[i], 0) {
			return nil, nil, fmt.Errorf("state vector of token %d is not finite", i/st.VectorSize)
		}
	}
	for i, k := range st.TokenKind {
		if k < 0 || k >= len(st.Kinds) {
			return nil, nil, fmt.Errorf("state token %d has kind index %d of %d kinds", i, k, len(st.Kinds))
		}
	}
	return &st, vecs, nil
}

// inlineState accepts JSON text or "base64:" followed by the state.
func inlineState(s string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(s, "base64:"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("bad base64: %w", err)
		}
		return b, nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("want the state as JSON text or \"base64:...\"; a path must be read by the host (plugins have no filesystem)")
}

// encodeBits is ColumnInfo.Tokens' form of has.
func encodeBits(has []bool) string {
	b := make([]byte, (len(has)+7)/8)
	for i, h := range has {
		if h {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return base64.StdEncoding.EncodeToString(b)
}

// ownTokens is, by token index, whether column holds the token, from the
// state's record of it; nil when the state has none for the column (an
// older state, or a pretrained model whose columns are named otherwise)
// or records it under another kind than the field's.
func ownTokens(st *State, column, kind string) ([]bool, error) {
	ci, ok := st.Columns[column]
	if !ok || ci.Tokens == "" || ci.Kind != kind {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(ci.Tokens)
	if err != nil {
		return nil, fmt.Errorf("state column %q tokens: %w", column, err)
	}
	n := len(st.TokenKind)
	if len(b) != (n+7)/8 {
		return nil, fmt.Errorf("state column %q tokens hold %d bytes, want %d for %d tokens", column, len(b), (n+7)/8, n)
	}
	has := make([]bool, n)
	some := false
	for i := range has {
		has[i] = b[i/8]>>(i%8)&1 != 0
		if has[i] {
			if st.Kinds[st.TokenKind[i]] != kind {
				return nil, fmt.Errorf("state column %q lists token %d of kind %q, want %q", column, i, st.Kinds[st.TokenKind[i]], kind)
			}
			some = true
		}
	}
	if !some {
		return nil, fmt.Errorf("state column %q holds no tokens", column)
	}
	return has, nil
}
