package netflowcsv

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/internal/textrec"
	"github.com/netshare/netshare/sdk"
)

// Reader reads flow CSV streamed in pieces.
type Reader struct {
	cfg   *config
	lines textrec.Lines

	ready    bool // columns resolved (after the header when there is one)
	idx      [nStandard]int
	extraIdx []int
	maxIdx   int

	batch   abi.Batch
	strCols []textrec.StringCol // one per extra column, parallel to extraIdx

	// The current line's fields as offsets into line or unq (quoted
	// fields), so splitting stores no pointers: no GC write barriers on
	// the per-field hot path.
	cur   []byte
	spans []span
	unq   []byte

	skips   textrec.Skips
	records int64
	err     error
}

// NewDecoder is NewReader.
//
// Deprecated: use NewReader; kept until host/internal/flow's tests, which
// another branch is editing, switch.
func NewDecoder(env sdk.Env) (sdk.Reader, error) { return NewReader(env) }

// NewReader opens a reader with env's parameters.
func NewReader(env sdk.Env) (sdk.Reader, error) {
	cfg, err := parseConfig(env.Params)
	if err != nil {
		return nil, err
	}
	d := &Reader{cfg: cfg}
	if !cfg.header {
		// parseConfig guarantees a table of indexes here.
		d.resolve(nil)
	}
	return d, nil
}

// Decode consumes the next piece of the stream.
func (d *Reader) Decode(p []byte) (*abi.Batch, error) {
	if d.err != nil {
		return nil, d.err
	}
	d.batch.Reset()
	for i := range d.strCols {
		d.strCols[i].Reset()
	}
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
	d.batch.Reset()
	for i := range d.strCols {
		d.strCols[i].Reset()
	}
	d.lines.Finish(d.line)
	if d.err != nil {
		return nil, abi.ReadStats{}, d.err
	}
	var notes map[string]string
	if d.cfg.header && !d.ready {
		notes = map[string]string{"header": "no header line found (empty input)"}
	}
	return d.out(), d.skips.Stats(d.records, notes), nil
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
	if len(bytes.TrimSpace(line)) == 0 {
		return // blank lines (nfdump exports start and end with one) hold no record
	}
	var ok bool
	d.cur = line
	d.spans, d.unq, ok = splitFields(line, d.cfg.delim, d.spans[:0], d.unq)
	if !ok {
		d.skips.Add("bad quoting", num, textrec.Quote(line))
		return
	}
	if !d.ready {
		header := make([][]byte, len(d.spans))
		for i := range header {
			header[i] = d.field(i)
		}
		header[0] = bytes.TrimPrefix(header[0], []byte("\xef\xbb\xbf"))
		if err := d.resolve(header); err != nil {
			d.err = fmt.Errorf("%s header (line %d): %w", Name, num, err)
		}
		return
	}
	d.row(num)
}

// span is one field of the current line: line[lo:hi], or unq[lo:hi] for a
// quoted field.
type span struct {
	lo, hi int32
	quoted bool
}

func (d *Reader) field(i int) []byte {
	s := d.spans[i]
	if s.quoted {
		return d.unq[s.lo:s.hi]
	}
	return d.cur[s.lo:s.hi]
}

// resolve fixes which CSV column feeds each of our columns, from the table
// and the header names (nil when there is no header).
func (d *Reader) resolve(header [][]byte) error {
	find := func(name string) int {
		for i, h := range header {
			if strings.EqualFold(string(bytes.TrimSpace(h)), name) {
				return i
			}
		}
		return -1
	}
	var extraNames []string
	if d.cfg.table == nil {
		var missing []string
		for i, s := range Standard {
			d.idx[i] = find(s)
			if d.idx[i] < 0 {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no column named %s (set the table parameter to map other names)", strings.Join(missing, ", "))
		}
		seen := map[string]bool{}
		for _, s := range Standard {
			seen[s] = true
		}
		for i, h := range header {
			name := string(bytes.TrimSpace(h))
			if name == "" || strings.HasPrefix(name, "_") || seen[strings.ToLower(name)] {
				continue
			}
			seen[strings.ToLower(name)] = true
			extraNames = append(extraNames, name)
			d.extraIdx = append(d.extraIdx, i)
		}
	} else {
		at := func(key string) (int, error) {
			src := d.cfg.table[key]
			if src.index >= 0 {
				return src.index, nil
			}
			if i := find(src.name); i >= 0 {
				return i, nil
			}
			return 0, fmt.Errorf("table maps %s to CSV column %q, which the header lacks", key, src.name)
		}
		for i, s := range Standard {
			var err error
			if d.idx[i], err = at(s); err != nil {
				return err
			}
		}
		for _, e := range d.cfg.extras {
			i, err := at(e)
			if err != nil {
				return err
			}
			extraNames = append(extraNames, e)
			d.extraIdx = append(d.extraIdx, i)
		}
	}
	for _, i := range d.idx {
		d.maxIdx = max(d.maxIdx, i)
	}
	for _, i := range d.extraIdx {
		d.maxIdx = max(d.maxIdx, i)
	}
	cols := make([]abi.Column, 0, nStandard+len(extraNames))
	for _, s := range Standard {
		cols = append(cols, abi.Column{Name: s, Type: standardTypes[s]})
	}
	for _, e := range extraNames {
		cols = append(cols, abi.Column{Name: e, Type: abi.TypeString})
	}
	d.batch.Columns = cols
	d.strCols = make([]textrec.StringCol, len(extraNames))
	d.ready = true
	return nil
}

func (d *Reader) row(num int64) {
	if len(d.spans) <= d.maxIdx {
		d.skips.Add("too few columns", num, fmt.Sprintf("%d, need %d", len(d.spans), d.maxIdx+1))
		return
	}
	get := func(c int) []byte { return trimSpace(d.field(d.idx[c])) }
	bad := func(c int) {
		d.skips.Add("bad "+Standard[c], num, textrec.Quote(get(c)))
	}
	src, ok := textrec.ParseIPv4(get(colSrcIP))
	if !ok {
		bad(colSrcIP)
		return
	}
	dst, ok := textrec.ParseIPv4(get(colDstIP))
	if !ok {
		bad(colDstIP)
		return
	}
	sp, ok := textrec.ParseUint(get(colSrcPort), math.MaxUint16)
	if !ok {
		bad(colSrcPort)
		return
	}
	dp, ok := textrec.ParseUint(get(colDstPort), math.MaxUint16)
	if !ok {
		bad(colDstPort)
		return
	}
	proto, ok := textrec.ParseProto(get(colProto))
	if !ok {
		bad(colProto)
		return
	}
	td, ok := textrec.ParseFloat(get(colTD))
	if !ok || td < 0 || td > 1e12 {
		bad(colTD)
		return
	}
	ts, ok := d.parseTime(get(colTS))
	if !ok {
		bad(colTS)
		return
	}
	if d.cfg.timeEnd {
		ts -= int64(math.Round(td * 1e6))
	}
	pkt, ok := textrec.ParseCount(get(colPkt))
	if !ok {
		bad(colPkt)
		return
	}
	byt, ok := textrec.ParseCount(get(colByt))
	if !ok {
		bad(colByt)
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
	c[colPkt].I64 = append(c[colPkt].I64, pkt)
	c[colByt].I64 = append(c[colByt].I64, byt)
	for i, fi := range d.extraIdx {
		d.strCols[i].Add(&c[nStandard+i], d.field(fi))
	}
	d.records++
}

// Timestamps beyond ±1e17 µs (year ~5000) are rejected so that ts − td and
// later arithmetic cannot overflow.
const maxAbsMicros = 1e17

func (d *Reader) parseTime(b []byte) (int64, bool) {
	if d.cfg.timeScale >= 0 {
		v, ok := textrec.ParseScaled(b, d.cfg.timeScale)
		return v, ok && v > -maxAbsMicros && v < maxAbsMicros
	}
	if len(b) > 64 {
		return 0, false
	}
	t, err := time.Parse(d.cfg.layout, string(b))
	if err != nil {
		return 0, false
	}
	v := t.UnixMicro()
	return v, v > -maxAbsMicros && v < maxAbsMicros
}

// splitFields splits a CSV line into spans. Quoted fields ("a,b",
// "say ""hi""") are unquoted into buf; a quoted field cannot span lines.
func splitFields(line []byte, delim byte, dst []span, buf []byte) ([]span, []byte, bool) {
	buf = buf[:0]
	pos := 0
	for {
		if pos < len(line) && line[pos] == '"' {
			start := len(buf)
			i := pos + 1
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return dst, buf, false
				}
				buf = append(buf, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' {
					buf = append(buf, '"')
					i++
					continue
				}
				break
			}
			dst = append(dst, span{int32(start), int32(len(buf)), true})
			if i == len(line) {
				return dst, buf, true
			}
			if line[i] != delim {
				return dst, buf, false
			}
			pos = i + 1
			continue
		}
		j := bytes.IndexByte(line[pos:], delim)
		if j < 0 {
			return append(dst, span{int32(pos), int32(len(line)), false}), buf, true
		}
		dst = append(dst, span{int32(pos), int32(pos + j), false})
		pos += j + 1
	}
}

// trimSpace drops ASCII blanks around a numeric field; cheaper than
// bytes.TrimSpace on the hot path, where fields rarely have any.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
