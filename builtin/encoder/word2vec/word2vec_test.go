package word2vec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

// TestVocabularyDecodesToItself: every token's vector decodes back to the
// token when the field holds that value in the real trace, and to one of
// the field's own values otherwise.
func TestVocabularyDecodesToItself(t *testing.T) {
	b := loadUGR(t)
	w := newWire(t)
	h := w.Open("word2vec", "srcport", embeddingOnly(), 7)
	st := w.Fit(h, b)
	var s State
	if err := json.Unmarshal(st, &s); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"srcport", "dstport", "proto"} {
		t.Run(col, func(t *testing.T) {
			fh := w.Open("word2vec", col, embeddingOnly(), 7)
			outs := w.Load(fh, st)
			if len(outs) != 1 || outs[0].Width != 10 || outs[0].Discrete || outs[0].Activation != abi.ActTanh {
				t.Fatalf("outputs %+v, want one 10-wide tanh", outs)
			}
			kind := map[string]string{"srcport": "port", "dstport": "port", "proto": "proto"}[col]
			own := map[int64]bool{}
			for i := 0; i < b.Column(col).Len(); i++ {
				own[int64(b.Column(col).Float(i))] = true
			}
			// Every token of the field's kind, encoded then decoded.
			var vals []int64
			for i, k := range s.TokenKind {
				if s.Kinds[k] == kind {
					vals = append(vals, s.TokenValue[i])
				}
			}
			if kind == "port" && len(own) == len(vals) {
				t.Fatalf("every port token is a %s value: the test checks nothing about foreign ones", col)
			}
			in := column(col, b.Column(col).Type, vals)
			m := w.Encode(fh, in)
			if m.HotWidth != 0 || m.ValueWidth != 10 {
				t.Fatalf("encoded %d indices and %d values a row, want 0 and 10", m.HotWidth, m.ValueWidth)
			}
			for i := 0; i < m.Rows; i++ {
				var n float64
				for _, x := range m.ValueRow(i) {
					n += x * x
				}
				if math.Abs(n-1) > 1e-12 {
					t.Fatalf("token %d encodes to a vector of norm² %v", vals[i], n)
				}
			}
			// As encoded, and as the GAN's float32 tensor gives it back.
			for _, round := range []bool{false, true} {
				in := m
				if round {
					in = roundF32(m)
				}
				got := w.Decode(fh, in).Column(col)
				for i, v := range vals {
					g := int64(got.Float(i))
					if own[v] && g != v || !own[g] {
						t.Fatalf("float32 %v: token %s:%d (a %s value: %v) decodes to %v", round, kind, v, col, own[v], g)
					}
				}
			}
			// And the field's own records round-trip exactly.
			got := w.Decode(fh, roundF32(w.Encode(fh, sub(b, col)))).Column(col)
			want := b.Column(col)
			if got.Type != want.Type {
				t.Fatalf("decoded type %s, want %s", got.Type, want.Type)
			}
			for i := 0; i < want.Len(); i++ {
				if got.Float(i) != want.Float(i) {
					t.Fatalf("row %d: %v, want %v", i, got.Float(i), want.Float(i))
				}
			}
		})
	}
	// The port vocabulary is the union of source and destination ports.
	ports := map[int64]bool{}
	for _, c := range []string{"srcport", "dstport"} {
		for _, v := range b.Column(c).U16 {
			ports[int64(v)] = true
		}
	}
	n := 0
	for i, k := range s.TokenKind {
		if s.Kinds[k] == "port" {
			n++
			if !ports[s.TokenValue[i]] {
				t.Errorf("port token %d is not in the data", s.TokenValue[i])
			}
		}
	}
	if n != len(ports) {
		t.Errorf("%d port tokens, want %d", n, len(ports))
	}
}

// TestApproxKeepsVocabulary: under approx and max_checks every vector of
// one of the field's values still decodes to that value, rounded to
// float32 (the memo) or not (the search itself), on the real trace.
func TestApproxKeepsVocabulary(t *testing.T) {
	b := loadUGR(t)
	w := newWire(t)
	st := w.Fit(w.Open("word2vec", "srcport", embeddingOnly(), 7), b)
	for _, params := range []map[string]any{{"approx": 1.0}, {"max_checks": int64(1)}, {"approx": 0.5, "max_checks": int64(8)}} {
		for _, col := range []string{"srcport", "dstport"} {
			h := w.Open("word2vec", col, params, 7)
			w.Load(h, st)
			in := sub(b, col)
			m := w.Encode(h, in)
			for _, round := range []bool{false, true} {
				q := m
				if round {
					q = roundF32(m)
				}
				got, want := w.Decode(h, q).Column(col), in.Column(col)
				for i := 0; i < want.Len(); i++ {
					if got.Float(i) != want.Float(i) {
						t.Fatalf("%v %s float32 %v: row %d decodes to %v, want %v", params, col, round, i, got.Float(i), want.Float(i))
					}
				}
			}
		}
	}
}

// roundF32 is e with its values rounded to float32, as the host hands
// them to decode from the GAN's tensor.
func roundF32(e *abi.Encoded) *abi.Encoded {
	r := *e
	r.Values = make([]float64, len(e.Values))
	for i, x := range e.Values {
		r.Values[i] = float64(float32(x))
	}
	return &r
}

func column(name string, typ abi.Type, vals []int64) *abi.Batch {
	c := abi.Column{Name: name, Type: typ}
	for _, v := range vals {
		switch typ {
		case abi.TypeU8:
			c.U8 = append(c.U8, uint8(v))
		case abi.TypeU16:
			c.U16 = append(c.U16, uint16(v))
		case abi.TypeU32, abi.TypeIPv4:
			c.U32 = append(c.U32, uint32(v))
		default:
			c.I64 = append(c.I64, v)
		}
	}
	return &abi.Batch{Columns: []abi.Column{c}}
}

func TestDeterministic(t *testing.T) {
	b := loadUGR(t)
	fit := func(seed int64) []byte {
		w := newWire(t)
		return w.Fit(w.Open("word2vec", "proto", embeddingOnly(), seed), b)
	}
	a, a2, c := fit(1), fit(1), fit(2)
	if !bytes.Equal(a, a2) {
		t.Fatal("two fits with seed 1 differ")
	}
	if bytes.Equal(a, c) {
		t.Fatal("fits with seeds 1 and 2 are identical")
	}
}

// synthetic builds sentences where web ports (80, 443) go with TCP and DNS
// ports (53, 5353) with UDP, from shared ephemeral source ports.
func synthetic(n int) *abi.Batch {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16}, {Name: "proto", Type: abi.TypeU8},
	}}
	r := &rng{s: 99}
	for i := 0; i < n; i++ {
		src := uint16(40000 + r.next()%50)
		var dst uint16
		var p uint8
		switch r.next() % 4 {
		case 0:
			dst, p = 80, 6
		case 1:
			dst, p = 443, 6
		case 2:
			dst, p = 53, 17
		default:
			dst, p = 5353, 17
		}
		b.Columns[0].U16 = append(b.Columns[0].U16, src)
		b.Columns[1].U16 = append(b.Columns[1].U16, dst)
		b.Columns[2].U8 = append(b.Columns[2].U8, p)
	}
	return b
}

// TestLearnsContexts: ports used in the same contexts end up closer than
// ports used in different ones; random vectors would not.
func TestLearnsContexts(t *testing.T) {
	w := newWire(t)
	h := w.Open("word2vec", "dstport", embeddingOnly(), 3)
	w.Load(h, w.Fit(h, synthetic(20000)))
	m := w.Encode(h, column("dstport", abi.TypeU16, []int64{80, 443, 53, 5353}))
	cos := func(i, j int) float64 {
		var s float64
		for k := 0; k < m.ValueWidth; k++ {
			s += m.ValueRow(i)[k] * m.ValueRow(j)[k]
		}
		return s
	}
	if !(cos(0, 1) > cos(0, 2) && cos(0, 1) > cos(0, 3) && cos(2, 3) > cos(2, 0) && cos(2, 3) > cos(2, 1)) {
		t.Fatalf("cos(80,443)=%.3f cos(80,53)=%.3f cos(80,5353)=%.3f cos(53,5353)=%.3f cos(53,443)=%.3f: contexts not learned",
			cos(0, 1), cos(0, 2), cos(0, 3), cos(2, 3), cos(2, 1))
	}
}

func TestUnseenValueMapsToNearest(t *testing.T) {
	w := newWire(t)
	h := w.Open("word2vec", "dstport", embeddingOnly(), 3)
	w.Load(h, w.Fit(h, synthetic(2000)))
	tests := []struct{ in, want int64 }{
		{0, 53}, {54, 53}, {66, 53}, {67, 80}, {300, 443}, {2898, 443}, {2899, 5353}, {65535, 40049}, {40025, 40025},
	}
	var ins, wants []int64
	for _, tc := range tests {
		ins, wants = append(ins, tc.in), append(wants, tc.want)
	}
	a := w.Encode(h, column("dstport", abi.TypeU16, ins))
	b := w.Encode(h, column("dstport", abi.TypeU16, wants))
	for i, tc := range tests {
		for k := 0; k < a.ValueWidth; k++ {
			if a.ValueRow(i)[k] != b.ValueRow(i)[k] {
				t.Fatalf("unseen %d does not encode as %d", tc.in, tc.want)
			}
		}
	}
	// Decoding stays within dstport's own values: the source ports'
	// vectors decode to some destination port.
	dst := map[int64]bool{53: true, 80: true, 443: true, 5353: true}
	got := w.Decode(h, a).Column("dstport").U16
	for i, tc := range tests {
		if g := int64(got[i]); dst[tc.want] && g != tc.want || !dst[g] {
			t.Errorf("unseen %d decodes to %d, want %d or else a destination port", tc.in, got[i], tc.want)
		}
	}
}

// TestDecodesOwnValuesExactly: on the real trace, each field decodes any
// vector to the cosine-nearest of the values that field holds (brute force
// over them) with approx = 0, never to a value only the other port column
// has.
func TestDecodesOwnValuesExactly(t *testing.T) {
	b := loadUGR(t)
	w := newWire(t)
	st := w.Fit(w.Open("word2vec", "srcport", embeddingOnly(), 7), b)
	r := &rng{s: 11}
	for _, col := range []string{"srcport", "dstport", "proto"} {
		t.Run(col, func(t *testing.T) {
			h := w.Open("word2vec", col, map[string]any{"approx": 0.0, "min_flows": int64(0)}, 7)
			w.Load(h, st)
			// The field's own values and their vectors, as the encoder
			// gives them.
			seen := map[int64]bool{}
			var own []int64
			for i := 0; i < b.Column(col).Len(); i++ {
				if v := int64(b.Column(col).Float(i)); !seen[v] {
					seen[v] = true
					own = append(own, v)
				}
			}
			vecs := w.Encode(h, column(col, b.Column(col).Type, own))
			const rows = 2000
			q := &abi.Encoded{Rows: rows, ValueWidth: 10, Values: make([]float64, rows*10)}
			for i := range q.Values {
				q.Values[i] = float64(float32(math.Tanh(2*r.float() - 1)))
			}
			got := w.Decode(h, q).Column(col)
			for i := 0; i < rows; i++ {
				row := q.ValueRow(i)
				best, bestCos := int64(-1), math.Inf(-1)
				var n float64
				for _, x := range row {
					n += x * x
				}
				for j, v := range own {
					var c float64
					for k, x := range vecs.ValueRow(j) {
						c += x * row[k]
					}
					c /= math.Sqrt(n)
					if c > bestCos+1e-12 || math.Abs(c-bestCos) <= 1e-12 && v < best {
						best, bestCos = v, c
					}
				}
				if g := int64(got.Float(i)); g != best {
					t.Fatalf("row %d decodes to %d, the nearest %s value is %d", i, g, col, best)
				}
			}
		})
	}
}

// TestStateWithoutColumnTokens: a state written before states recorded
// each column's tokens still loads, and its fields decode into every value
// of their kind as they did then.
func TestStateWithoutColumnTokens(t *testing.T) {
	w := newWire(t)
	old := withoutColumnTokens(t, w.Fit(w.Open("word2vec", "srcport", embeddingOnly(), 3), synthetic(2000)))
	h := w.Open("word2vec", "dstport", embeddingOnly(), 3)
	w.Load(h, old)
	ports := []int64{53, 80, 40000, 40049}
	got := w.Decode(h, w.Encode(h, column("dstport", abi.TypeU16, ports))).Column("dstport").U16
	for i, v := range ports {
		if int64(got[i]) != v {
			t.Errorf("port %d decodes to %d in a state without column tokens", v, got[i])
		}
	}
}

// The k-d tree must agree with brute force, ties to the lower key, on
// unstructured points, on ones full of duplicates and ties, and on unit
// vectors (the real case) with queries at the points, at their float32
// roundings, near them and far from them. Unit vectors take the integer
// first pass (quant.go): 10 dimensions its written-out scan, 7 the loop.
func TestKDTreeExact(t *testing.T) {
	for _, d := range []int{10, 7} {
		t.Run(fmt.Sprintf("d=%d", d), func(t *testing.T) { testKDTreeExact(t, d) })
	}
}

func testKDTreeExact(t *testing.T, d int) {
	r := &rng{s: 5}
	gauss := func() float64 { return math.Sqrt(-2*math.Log(1-r.float())) * math.Cos(2*math.Pi*r.float()) }
	tests := []struct {
		name string
		n    int
		unit bool
		dup  bool
	}{
		{"one", 1, false, false}, {"leaf", 7, false, false}, {"two leaves", 9, false, false},
		{"duplicates", 100, false, true}, {"cube", 3000, false, false},
		{"unit", 3000, true, false}, {"unit duplicates", 500, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pts := make([]float64, tc.n*d)
			for i := range pts {
				pts[i] = r.float()*2 - 1
				if tc.dup {
					pts[i] = float64(int(pts[i] * 2)) // many duplicates and ties
				}
			}
			if tc.unit {
				for i := 0; i < tc.n; i++ {
					normalize(pts[i*d : (i+1)*d])
				}
			}
			// Keys descending with the index, so ties do not simply go to
			// the lower index.
			keys := make([]int64, tc.n)
			for i := range keys {
				keys[i] = int64(10 * (tc.n - i))
			}
			tree := newKDTree(pts, d, keys)
			// A point of zeros stays zero when normalised: no integer pass.
			unit := tc.unit
			for i := 0; i < tc.n; i++ {
				unit = unit && slices.ContainsFunc(pts[i*d:(i+1)*d], func(x float64) bool { return x != 0 })
			}
			if unit != (tree.qpk != nil) {
				t.Fatalf("unit points %v, integer pass %v", unit, tree.qpk != nil)
			}
			q := make([]float64, d)
			dist2 := func(i int) float64 {
				var s float64
				for k := range q {
					y := q[k] - pts[i*d+k]
					s += y * y
				}
				return s
			}
			brute := func() int {
				best, bestD := -1, math.Inf(1)
				for i := 0; i < tc.n; i++ {
					if s := dist2(i); s < bestD || s == bestD && keys[i] < keys[best] {
						best, bestD = i, s
					}
				}
				return best
			}
			for trial := 0; trial < 600; trial++ {
				p := trial % tc.n
				for k := range q {
					switch trial % 4 {
					case 0:
						q[k] = r.float()*2 - 1
					case 1:
						q[k] = pts[p*d+k]
					case 2:
						q[k] = float64(float32(pts[p*d+k]))
					default:
						q[k] = pts[p*d+k] + 0.01*gauss()
					}
				}
				if tc.unit {
					normalize(q)
				}
				want := brute()
				if got, _ := tree.nearest(q, 0, 1); int(tree.orig[got]) != want {
					t.Fatalf("trial %d: tree says %d, brute force %d", trial, tree.orig[got], want)
				}
				// Best bin first without a bound or budget is exact too;
				// with approx ε its answer is at most 1+ε as far, and so
				// is the approximate depth-first search's (integer leaves).
				if got, _ := tree.nearestBBF(q, 0, 1); int(tree.orig[got]) != want {
					t.Fatalf("trial %d: best bin first says %d, brute force %d", trial, tree.orig[got], want)
				}
				for _, eps := range []float64{0.1, 0.5, 1} {
					for name, search := range map[string]func() int{
						"best bin first": func() int { got, _ := tree.nearestBBF(q, 0, (1+eps)*(1+eps)); return got },
						"nearest":        func() int { got, _ := tree.nearest(q, 0, (1+eps)*(1+eps)); return got },
					} {
						got := search()
						if g, w := math.Sqrt(dist2(int(tree.orig[got]))), math.Sqrt(dist2(want)); g > (1+eps)*w+1e-9 {
							t.Fatalf("trial %d: %s with approx %v answers at distance %v, the nearest is at %v", trial, name, eps, g, w)
						}
					}
				}
			}
		})
	}
}

func TestPretrained(t *testing.T) {
	b := loadUGR(t)
	w := newWire(t)
	public := w.Fit(w.Open("word2vec", "srcport", embeddingOnly(), 1), synthetic(500))
	for _, inline := range []string{string(public), "base64:" + base64.StdEncoding.EncodeToString(public)} {
		h := w.Open("word2vec", "srcport", map[string]any{"pretrained": inline, "private": true}, 9)
		st := w.Fit(h, b)
		if !bytes.Equal(st, public) {
			t.Fatal("a pretrained encoder's fitted state is not the pretrained model")
		}
		w.Load(h, st)
		// Private ports unseen in the public model still encode (nearest).
		got := w.Decode(h, w.Encode(h, sub(b, "srcport"))).Column("srcport").U16
		for i, v := range got {
			if v != 53 && v != 80 && v != 443 && v != 5353 && (v < 40000 || v >= 40050) {
				t.Fatalf("row %d decodes to %d, not a public token", i, v)
			}
		}
	}
}

// TestBadColumnTokens: a state whose column token sets are malformed is
// refused at load, naming the column.
func TestBadColumnTokens(t *testing.T) {
	w := newWire(t)
	st := w.Fit(w.Open("word2vec", "srcport", embeddingOnly(), 3), synthetic(200))
	var s State
	if err := json.Unmarshal(st, &s); err != nil {
		t.Fatal(err)
	}
	n := len(s.TokenKind)
	protoTok := -1
	for i, k := range s.TokenKind {
		if s.Kinds[k] == "proto" {
			protoTok = i
		}
	}
	bits := func(set ...int) string {
		has := make([]bool, n)
		for _, i := range set {
			has[i] = true
		}
		return encodeBits(has)
	}
	tests := []struct{ name, tokens, want string }{
		{"not base64", "%%", `column "dstport" tokens`},
		{"short", base64.StdEncoding.EncodeToString([]byte{1}), "want"},
		{"empty", bits(), "holds no tokens"},
		{"foreign kind", bits(protoTok), `of kind "proto"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := s
			c.Columns = map[string]ColumnInfo{}
			for k, v := range s.Columns {
				c.Columns[k] = v
			}
			ci := c.Columns["dstport"]
			ci.Tokens = tc.tokens
			c.Columns["dstport"] = ci
			raw, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.TryLoad(w.Open("word2vec", "dstport", embeddingOnly(), 3), raw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		column string
		params map[string]any
		batch  *abi.Batch
		want   string
	}{
		{"private needs pretrained", "srcport", map[string]any{"private": true}, nil, "private = true needs a pretrained model"},
		{"pretrained path", "srcport", map[string]any{"pretrained": "/tmp/model.json"}, nil, "must be read by the host"},
		{"pretrained garbage", "srcport", map[string]any{"pretrained": "{\"vector_size\": 0}"}, nil, "vector_size 0"},
		{"unknown kind", "ttl", nil, nil, "not in kinds"},
		{"sentence column missing kind", "srcport", map[string]any{"sentence": []any{"srcport", "ttl"}}, nil, `"ttl" has no kind`},
		{"missing sentence column", "srcport", nil, &abi.Batch{Columns: []abi.Column{{Name: "srcport", Type: abi.TypeU16, U16: []uint16{1}}}}, `no sentence column "dstport"`},
		{"string sentence column", "srcport", map[string]any{"sentence": []any{"srcport"}}, &abi.Batch{Columns: []abi.Column{{Name: "srcport", Type: abi.TypeString, Dict: []string{"x"}, Codes: []uint32{0}}}}, "want an integer type"},
		{"bad vector size", "srcport", map[string]any{"vector_size": int64(0)}, nil, "vector_size 0"},
		{"negative approx", "srcport", map[string]any{"approx": -0.5}, nil, "approx -0.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			h, err := w.TryOpen("word2vec", tc.column, tc.params, 1)
			if err == nil && tc.batch != nil {
				_, err = w.TryFit(h, tc.batch)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestColumnTypes pins which column types word2vec takes: those
// abi.Type.IsInt calls integers, IPv4 addresses and timestamps included
// (integers on the wire), each decoding back into its own type; floats and
// strings are refused.
func TestColumnTypes(t *testing.T) {
	vals := []int64{1, 7, 80, 443, 1 << 20, 3_000_000_000}
	for _, tc := range []struct {
		typ  abi.Type
		vals []int64
		ok   bool
	}{
		{abi.TypeU8, vals[:3], true},
		{abi.TypeU16, vals[:4], true},
		{abi.TypeU32, vals, true},
		{abi.TypeIPv4, vals, true},
		{abi.TypeI64, vals, true},
		{abi.TypeTime, vals, true},
		{abi.TypeF64, vals, false},
		{abi.TypeString, vals, false},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			// Sentences [srcport, dstport], each value beside the next.
			src := column("srcport", tc.typ, nil).Columns[0]
			dst := column("dstport", tc.typ, nil).Columns[0]
			var a, b []int64
			for r := 0; r < 50; r++ {
				for i, v := range tc.vals {
					a, b = append(a, v), append(b, tc.vals[(i+1)%len(tc.vals)])
				}
			}
			if tc.typ == abi.TypeF64 {
				src.F64, dst.F64 = make([]float64, len(a)), make([]float64, len(b))
			} else if tc.typ == abi.TypeString {
				src.Dict, src.Codes = []string{"x"}, make([]uint32, len(a))
				dst.Dict, dst.Codes = []string{"x"}, make([]uint32, len(b))
			} else {
				src, dst = column("srcport", tc.typ, a).Columns[0], column("dstport", tc.typ, b).Columns[0]
			}
			batch := &abi.Batch{Columns: []abi.Column{src, dst}}
			w := newWire(t)
			params := map[string]any{"sentence": []any{"srcport", "dstport"}}
			h := w.Open("word2vec", "srcport", params, 1)
			st, err := w.TryFit(h, batch)
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "want an integer type") {
					t.Fatalf("fit error %v, want one refusing the type", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w.Load(h, st)
			in := column("srcport", tc.typ, tc.vals)
			got := w.Decode(h, w.Encode(h, in)).Column("srcport")
			if got == nil || got.Type != tc.typ || got.Len() != len(tc.vals) {
				t.Fatalf("decoded %+v, want %d rows of %s", got, len(tc.vals), tc.typ)
			}
			for i, v := range tc.vals {
				if got.Int(i) != v {
					t.Errorf("%d decodes to %d", v, got.Int(i))
				}
			}
		})
	}
}

// BenchmarkTrain1M fits word2vec on 1M records (3M tokens), natively; the
// Wasm figure comes from host/internal/encoding's benchmark.
func BenchmarkTrain1M(b *testing.B) {
	data := synthetic(1_000_000)
	// Widen the vocabulary to realistic sizes: ephemeral ports 1024..65535.
	r := &rng{s: 1}
	for i := range data.Columns[0].U16 {
		data.Columns[0].U16[i] = uint16(1024 + r.next()%64512)
	}
	for i := 0; i < b.N; i++ {
		e, err := New(envFor("srcport"))
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Fit(data); err != nil {
			b.Fatal(err)
		}
		if _, err := e.FitEnd(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "records/s")
}

// The unrolled 10-dimension path must compute exactly what the generic
// loops compute (on platforms that do not fuse multiply-adds).
func TestUnrolledMatchesGeneric(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "wasm" {
		t.Skipf("%s may fuse multiply-adds differently in the two paths", runtime.GOARCH)
	}
	e, err := New(envFor("srcport"))
	if err != nil {
		t.Fatal(err)
	}
	enc := e.(*Encoder)
	if err := enc.Fit(synthetic(3000)); err != nil {
		t.Fatal(err)
	}
	train := func(u bool) *Model {
		unrolled = u
		defer func() { unrolled = true }()
		m, err := Train(enc.sample.corpus(len(enc.keys)), 3, enc.keys, enc.counts, enc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := train(true), train(false)
	for i := range a.Vectors {
		if a.Vectors[i] != b.Vectors[i] {
			t.Fatalf("value %d: unrolled %v, generic %v", i, a.Vectors[i], b.Vectors[i])
		}
	}
}
