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
	Type string `json:"type"`
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
