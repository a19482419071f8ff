package zeekconn

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/internal/textrec"
	"github.com/netshare/netshare/sdk"
)

// Reader reads a conn.log streamed in pieces.
type Reader struct {
	wantStrings []string
	lines       textrec.Lines

	sep        []byte
	unset      []byte
	empty      []byte
	fieldNames []string // of the current #fields line
	// idx holds the position in the current #fields of each source field,
	// -1 when absent.
	idx struct {
		ts, origH, origP, respH, respP, proto, duration, origPkts, respPkts, origIPB, respIPB int
	}
	strIdx []int // per string column, -1 when the current header lacks it

	ready   bool // columns fixed by the first #fields line
	batch   abi.Batch
	strCols []textrec.StringCol

	// The current row's fields as offsets into line: splitting stores no
	// pointers, so it costs no GC write barriers.
	cur    []byte
	starts []int32
	ends   []int32
	buf    []byte

	skips   textrec.Skips
	records int64
	err     error
}

// NewReader opens a decoder.
func NewReader(env sdk.Env) (sdk.Reader, error) {
	want := env.Params.Strings("strings")
	seen := map[string]bool{}
	for _, s := range want {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("%s: strings lists %q twice or empty", Name, s)
		}
		seen[s] = true
		for _, c := range columns {
			if c.name == s {
				return nil, fmt.Errorf("%s: strings lists %q, which is a numeric flow column", Name, s)
			}
		}
	}
	return &Reader{
		wantStrings: want,
		sep:         []byte{'\t'},
		unset:       []byte(unsetField),
		empty:       []byte(emptyField),
	}, nil
}

// Decode consumes the next piece of the log.
func (d *Reader) Decode(p []byte) (*abi.Batch, error) {
	if d.err != nil {
		return nil, d.err
	}
	d.reset()
	d.lines.Feed(p, d.line)
	if d.err != nil {
		return nil, d.err
	}
	return d.out(), nil
}

// End decodes a last line without a line ending and reports the counts.
func (d *Reader) End() (*abi.Batch, abi.ReadStats, error) {
	if d.err != nil {
		return nil, abi.ReadStats{}, d.err
	}
	d.reset()
	d.lines.Finish(d.line)
	if d.err != nil {
		return nil, abi.ReadStats{}, d.err
	}
	var notes map[string]string
	if !d.ready {
		notes = map[string]string{"header": "no #fields line found"}
	}
	return d.out(), d.skips.Stats(d.records, notes), nil
}

func (d *Reader) reset() {
	d.batch.Reset()
	for i := range d.strCols {
		d.strCols[i].Reset()
	}
}

func (d *Reader) out() *abi.Batch {
	if !d.ready {
		return nil
	}
	return &d.batch
}

func (d *Reader) line(line []byte, num int64, tooLong bool) {
	if d.err != nil {
		return
	}
	if tooLong {
		d.skips.Add("line too long", num, fmt.Sprintf("over %d bytes", textrec.MaxLine))
		return
	}
	if len(line) == 0 {
		return
	}
	if line[0] == '#' {
		if err := d.header(line); err != nil {
			d.err = fmt.Errorf("%s: line %d: %w", Name, num, err)
		}
		return
	}
	if d.fieldNames == nil {
		d.skips.Add("no #fields header", num, "")
		return
	}
	d.row(line, num)
}

// header handles a #directive line. #separator uses a space (the separator
// is not known yet); the others use the separator.
func (d *Reader) header(line []byte) error {
	if rest, ok := bytes.CutPrefix(line, []byte("#separator ")); ok {
		sep := unescape(nil, rest)
		if len(sep) == 0 {
			return fmt.Errorf("empty #separator")
		}
		d.sep = sep
		return nil
	}
	key, val, _ := bytes.Cut(line[1:], d.sep)
	switch string(key) {
	case "unset_field":
		d.unset = append(d.unset[:0], val...)
	case "empty_field":
		d.empty = append(d.empty[:0], val...)
	case "path":
		if len(val) > 0 && !bytes.Equal(val, []byte("conn")) {
			return fmt.Errorf("#path is %q: zeek-conn reads conn logs only", val)
		}
	case "fields":
		return d.setFields(strings.Split(string(val), string(d.sep)))
	}
	// #set_separator, #open, #close, #types carry nothing we use.
	return nil
}

func (d *Reader) setFields(names []string) error {
	if len(names) == 0 || len(names) > 1000 {
		return fmt.Errorf("#fields lists %d fields", len(names))
	}
	find := func(name string) int {
		for i, n := range names {
			if n == name {
				return i
			}
		}
		return -1
	}
	x := &d.idx
	x.ts, x.origH, x.origP, x.respH, x.respP, x.proto = find(fTS), find(fOrigH), find(fOrigP), find(fRespH), find(fRespP), find(fProto)
	x.duration, x.origPkts, x.respPkts, x.origIPB, x.respIPB = find(fDuration), find(fOrigPkts), find(fRespPkts), find(fOrigIPB), find(fRespIPB)
	var missing []string
	for _, m := range []struct {
		i    int
		name string
	}{{x.ts, fTS}, {x.origH, fOrigH}, {x.origP, fOrigP}, {x.respH, fRespH}, {x.respP, fRespP}, {x.proto, fProto}} {
		if m.i < 0 {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("#fields lacks %s: not a conn log", strings.Join(missing, ", "))
	}
	if !d.ready {
		// The first header fixes the string columns for the whole stream,
		// so every batch has the same columns.
		cols := make([]abi.Column, 0, nColumns+len(d.wantStrings))
		for _, c := range columns {
			cols = append(cols, abi.Column{Name: c.name, Type: c.typ})
		}
		var kept []string
		for _, s := range d.wantStrings {
			if find(s) >= 0 {
				kept = append(kept, s)
				cols = append(cols, abi.Column{Name: s, Type: abi.TypeString})
			}
		}
		d.wantStrings = kept
		d.batch.Columns = cols
		d.strCols = make([]textrec.StringCol, len(kept))
		d.ready = true
	}
	d.strIdx = d.strIdx[:0]
	for _, s := range d.wantStrings {
		d.strIdx = append(d.strIdx, find(s))
	}
	d.fieldNames = names
	return nil
}

// fieldsOf indexes the current row's fields: f[i] is field i.
type fieldsOf struct{ d *Reader }

func (f fieldsOf) at(i int) []byte { return f.d.cur[f.d.starts[i]:f.d.ends[i]] }

func (d *Reader) row(line []byte, num int64) {
	d.cur = line
	d.starts, d.ends = d.starts[:0], d.ends[:0]
	for pos := 0; ; {
		var i int
		if len(d.sep) == 1 {
			i = bytes.IndexByte(line[pos:], d.sep[0])
		} else {
			i = bytes.Index(line[pos:], d.sep)
		}
		d.starts = append(d.starts, int32(pos))
		if i < 0 {
			d.ends = append(d.ends, int32(len(line)))
			break
		}
		d.ends = append(d.ends, int32(pos+i))
		pos += i + len(d.sep)
	}
	if n := len(d.starts); n != len(d.fieldNames) {
		reason := "too few columns"
		if n > len(d.fieldNames) {
			reason = "too many columns"
		}
		d.skips.Add(reason, num, fmt.Sprintf("%d, #fields has %d", n, len(d.fieldNames)))
		return
	}
	f := fieldsOf{d}
	x := &d.idx
	bad := func(i int) {
		d.skips.Add("bad "+d.fieldNames[i], num, textrec.Quote(f.at(i)))
	}
	addr := func(i int) (uint32, bool) {
		ip, ok := textrec.ParseIPv4(f.at(i))
		if !ok {
			if bytes.IndexByte(f.at(i), ':') >= 0 {
				d.skips.Add("not IPv4", num, textrec.Quote(f.at(i)))
			} else {
				bad(i)
			}
		}
		return ip, ok
	}
	// count reads an optional count field: absent or unset is 0.
	count := func(i int) (int64, bool) {
		if i < 0 || bytes.Equal(f.at(i), d.unset) {
			return 0, true
		}
		v, ok := textrec.ParseCount(f.at(i))
		if !ok {
			bad(i)
		}
		return v, ok
	}
	src, ok := addr(x.origH)
	if !ok {
		return
	}
	dst, ok := addr(x.respH)
	if !ok {
		return
	}
	sp, ok := textrec.ParseUint(f.at(x.origP), math.MaxUint16)
	if !ok {
		bad(x.origP)
		return
	}
	dp, ok := textrec.ParseUint(f.at(x.respP), math.MaxUint16)
	if !ok {
		bad(x.respP)
		return
	}
	proto, ok := textrec.ParseProto(f.at(x.proto))
	if !ok {
		bad(x.proto)
		return
	}
	ts, ok := textrec.ParseScaled(f.at(x.ts), 6)
	if !ok || ts <= -1e17 || ts >= 1e17 {
		bad(x.ts)
		return
	}
	var td float64
	if x.duration >= 0 && !bytes.Equal(f.at(x.duration), d.unset) {
		td, ok = textrec.ParseFloat(f.at(x.duration))
		if !ok || td < 0 {
			bad(x.duration)
			return
		}
	}
	op, ok := count(x.origPkts)
	if !ok {
		return
	}
	rp, ok := count(x.respPkts)
	if !ok {
		return
	}
	ob, ok := count(x.origIPB)
	if !ok {
		return
	}
	rb, ok := count(x.respIPB)
	if !ok {
		return
	}
	if op > math.MaxInt64-rp || ob > math.MaxInt64-rb {
		d.skips.Add("count overflow", num, "")
		return
	}
	c := d.batch.Columns
	c[colSrcIP].U32 = append(c[colSrcIP].U32, src)
	c[colDstIP].U32 = append(c[colDstIP].U32, dst)
	c[colSrcPort].U16 = append(c[colSrcPort].U16, uint16(sp))
	c[colDstPort].U16 = append(c[colDstPort].U16, uint16(dp))
	c[colProto].U8 = append(c[colProto].U8, proto)
	c[colTS].I64 = append(c[colTS].I64, ts)
	c[colTD].F64 = append(c[colTD].F64, td)
	c[colPkt].I64 = append(c[colPkt].I64, op+rp)
	c[colByt].I64 = append(c[colByt].I64, ob+rb)
	for i, fi := range d.strIdx {
		var v []byte
		switch {
		case fi < 0:
			v = d.unset // a later header without this field
		case bytes.Equal(f.at(fi), d.empty):
			v = nil
		case bytes.IndexByte(f.at(fi), '\\') >= 0:
			d.buf = unescape(d.buf[:0], f.at(fi))
			v = d.buf
		default:
			v = f.at(fi)
		}
		d.strCols[i].Add(&c[nColumns+i], v)
	}
	d.records++
}
