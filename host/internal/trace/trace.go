// Package trace reads and writes traces through the format plugins: it
// picks a format by name or detects it from a file's first bytes, streams
// each file to the plugin in pieces (so a large trace never sits in plugin
// memory), collects the records host-side into one columnar batch, merges
// several files (epochs of one trace) by time, and writes records through a
// format's encoder to a file replaced atomically.
package trace

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/plugin"
)

// PieceSize is how much of a file goes to the decoder per call.
const PieceSize = 1 << 20

// HeadSize is how many leading bytes format detection looks at.
const HeadSize = 64 << 10

// Options configure reading.
type Options struct {
	// Format names the format component; "" detects it per file.
	Format string
	// Params go to the decoder (e.g. a CSV column mapping).
	Params map[string]any
	// Seed is passed to the plugin instance.
	Seed int64
	// Time is the column records are merged and sorted by; "" means "ts".
	Time string
	// PieceSize overrides the bytes per decode call (tests); 0 means
	// PieceSize.
	PieceSize int
}

// FileStats is what decoding one file found.
type FileStats struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	abi.ReadStats
}

// Trace is the records of one or more files, merged by time.
type Trace struct {
	Records *abi.Batch
	Files   []FileStats
}

// Read decodes every path and merges the records by time: a k-way merge
// when each file is in time order, a stable sort otherwise (ties keep file
// order, then row order). All files must decode to the same columns.
func Read(ctx context.Context, h *plugin.Host, paths []string, opt Options) (*Trace, error) {
	if len(paths) == 0 {
		return nil, errors.New("read trace: no input files")
	}
	timeCol := opt.Time
	if timeCol == "" {
		timeCol = "ts"
	}
	t := &Trace{}
	var parts []*abi.Batch
	for _, p := range paths {
		b, st, err := ReadFile(ctx, h, p, opt)
		if err != nil {
			return nil, err
		}
		t.Files = append(t.Files, st)
		if b.Len() > 0 || len(b.Columns) > 0 {
			parts = append(parts, b)
		}
	}
	merged, err := mergeByTime(parts, paths, timeCol)
	if err != nil {
		return nil, err
	}
	t.Records = merged
	return t, nil
}

// ReadFile decodes one file into a batch. The format comes from opt.Format
// or detection.
func ReadFile(ctx context.Context, h *plugin.Host, path string, opt Options) (*abi.Batch, FileStats, error) {
	st := FileStats{Path: path}
	f, err := os.Open(path)
	if err != nil {
		return nil, st, fmt.Errorf("read trace: %w", err)
	}
	defer f.Close()
	piece := opt.PieceSize
	if piece <= 0 {
		piece = PieceSize
	}
	buf := make([]byte, max(piece, HeadSize))
	n, err := io.ReadFull(f, buf[:HeadSize])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, st, fmt.Errorf("read trace %s: %w", path, err)
	}
	head := buf[:n]
	format := opt.Format
	if format == "" {
		if format, err = Detect(ctx, h, head); err != nil {
			return nil, st, fmt.Errorf("read trace %s: %w", path, err)
		}
	}
	st.Format = format
	in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindFormat, Name: format, Params: opt.Params, Seed: opt.Seed, Mode: abi.ModeRead})
	if err != nil {
		return nil, st, fmt.Errorf("read trace %s: %w", path, err)
	}
	defer in.Close(ctx)
	var app Appender
	var offset int64
	feed := func(p []byte) error {
		_, body, err := in.Call(ctx, abi.OpRead, nil, p)
		if err != nil {
			return fmt.Errorf("read trace %s (bytes %d–%d): %w", path, offset, offset+int64(len(p)), err)
		}
		offset += int64(len(p))
		return appendBody(&app, body, path)
	}
	feedAll := func(p []byte) error {
		for len(p) > 0 {
			k := min(piece, len(p))
			if err := feed(p[:k]); err != nil {
				return err
			}
			p = p[k:]
		}
		return nil
	}
	// The head read for detection is the start of the stream; buf is
	// reused only after it has been fed.
	if err := feedAll(head); err != nil {
		return nil, st, err
	}
	for {
		n, err := io.ReadFull(f, buf[:piece])
		if n > 0 {
			if err := feedAll(buf[:n]); err != nil {
				return nil, st, err
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, st, fmt.Errorf("read trace %s: %w", path, err)
		}
	}
	hdr, body, err := in.Call(ctx, abi.OpReadEnd, nil, nil)
	if err != nil {
		return nil, st, fmt.Errorf("read trace %s (end of file, %d bytes): %w", path, offset, err)
	}
	if err := appendBody(&app, body, path); err != nil {
		return nil, st, err
	}
	if len(hdr) > 0 {
		if err := json.Unmarshal(hdr, &st.ReadStats); err != nil {
			return nil, st, fmt.Errorf("read trace %s: format %s sent bad stats: %w", path, format, err)
		}
	}
	b := app.Batch()
	if got := int64(b.Len()); got != st.Records {
		return nil, st, fmt.Errorf("read trace %s: format %s returned %d records but counted %d", path, format, got, st.Records)
	}
	return b, st, nil
}

func appendBody(app *Appender, body []byte, path string) error {
	b, err := abi.DecodeBatch(body)
	if err != nil {
		return fmt.Errorf("read trace %s: decoder sent a bad batch: %w", path, err)
	}
	if err := app.Append(b); err != nil {
		return fmt.Errorf("read trace %s: %w", path, err)
	}
	return nil
}

// Detect asks every format component whether head is in its format and
// returns the one that recognises it. None or several matching is an error
// that lists the formats, so the user can name one.
func Detect(ctx context.Context, h *plugin.Host, head []byte) (string, error) {
	var names, matches []string
	for _, e := range h.Manifest() {
		if e.Component.Kind != abi.KindFormat {
			continue
		}
		name := e.Module + "/" + e.Component.Name
		names = append(names, e.Component.Name)
		in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindFormat, Name: name})
		if err != nil {
			// A format whose parameters are required cannot detect
			// without them; it must be named.
			continue
		}
		hdr, _, err := in.Call(ctx, abi.OpDetect, nil, head)
		in.Close(ctx)
		if err != nil {
			return "", fmt.Errorf("detecting the format: %w", err)
		}
		var r abi.DetectReply
		if err := json.Unmarshal(hdr, &r); err != nil {
			return "", fmt.Errorf("detecting the format: %s sent a bad reply: %w", name, err)
		}
		if r.Match && !slices.Contains(matches, e.Component.Name) {
			matches = append(matches, e.Component.Name)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("no format recognises the content (formats: %s); name one with a format setting, e.g. netflow-csv with a column table for CSVs without a header", strings.Join(names, ", "))
	}
	return "", fmt.Errorf("several formats recognise the content (%s); name one", strings.Join(matches, ", "))
}

// mergeByTime merges per-file record batches by the time column.
func mergeByTime(parts []*abi.Batch, paths []string, timeCol string) (*abi.Batch, error) {
	if len(parts) == 0 {
		return &abi.Batch{}, nil
	}
	times := make([][]int64, len(parts))
	sorted := true
	for i, p := range parts {
		c := p.Column(timeCol)
		if c == nil {
			return nil, fmt.Errorf("read trace: records of %s have no time column %q", pathOf(paths, i), timeCol)
		}
		if c.Type != abi.TypeTime && c.Type != abi.TypeI64 {
			return nil, fmt.Errorf("read trace: time column %q of %s is %s, want time", timeCol, pathOf(paths, i), c.Type)
		}
		times[i] = c.I64
		sorted = sorted && slices.IsSorted(c.I64)
	}
	var app Appender
	for i, p := range parts {
		if err := app.Append(p); err != nil {
			return nil, fmt.Errorf("read trace: %s: %w", pathOf(paths, i), err)
		}
		parts[i] = nil
	}
	all := app.Batch()
	if len(times) == 1 && sorted {
		return all, nil
	}
	var order []int32
	if sorted {
		order = kWayMerge(times)
	} else {
		ts := all.Column(timeCol).I64
		order = make([]int32, len(ts))
		for i := range order {
			order[i] = int32(i)
		}
		sort.SliceStable(order, func(a, b int) bool { return ts[order[a]] < ts[order[b]] })
	}
	if order == nil {
		return all, nil
	}
	return all.Take(order), nil
}

func pathOf(paths []string, i int) string {
	if i < len(paths) {
		return paths[i]
	}
	return fmt.Sprintf("file %d", i+1)
}

// kWayMerge merges sorted runs (concatenated in order) into one order of
// global row indices; ties go to the earlier file. It returns nil when the
// runs are already in order end to end.
func kWayMerge(runs [][]int64) []int32 {
	inOrder, seen := true, false
	var last int64
	for _, r := range runs {
		if len(r) == 0 {
			continue
		}
		if seen && r[0] < last {
			inOrder = false
		}
		seen, last = true, r[len(r)-1]
	}
	if inOrder {
		return nil
	}
	h := &cursors{}
	base := 0
	total := 0
	for i, r := range runs {
		if len(r) > 0 {
			h.items = append(h.items, cursor{run: i, pos: 0, base: base, t: r[0]})
		}
		base += len(r)
		total += len(r)
	}
	heap.Init(h)
	order := make([]int32, 0, total)
	for h.Len() > 0 {
		c := &h.items[0]
		order = append(order, int32(c.base+c.pos))
		c.pos++
		if c.pos < len(runs[c.run]) {
			c.t = runs[c.run][c.pos]
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return order
}

type cursor struct {
	run, pos, base int
	t              int64
}

type cursors struct{ items []cursor }

func (h *cursors) Len() int { return len(h.items) }
func (h *cursors) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	return a.t < b.t || a.t == b.t && a.run < b.run
}
func (h *cursors) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *cursors) Push(x any)    { h.items = append(h.items, x.(cursor)) }
func (h *cursors) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// WriteOptions configure Write.
type WriteOptions struct {
	Format string
	Params map[string]any
	Seed   int64
	// BatchRows is how many records go to the encoder per call; 0 means
	// 65536.
	BatchRows int
}

// Write encodes records with a format's encoder into path, replacing it
// atomically: a failed write leaves any existing file untouched.
func Write(ctx context.Context, h *plugin.Host, path string, records *abi.Batch, opt WriteOptions) error {
	if opt.Format == "" {
		return fmt.Errorf("write trace %s: no format named", path)
	}
	in, err := h.Open(ctx, abi.OpenRequest{Kind: abi.KindFormat, Name: opt.Format, Params: opt.Params, Seed: opt.Seed, Mode: abi.ModeWrite})
	if err != nil {
		return fmt.Errorf("write trace %s: %w", path, err)
	}
	defer in.Close(ctx)
	rows := opt.BatchRows
	if rows <= 0 {
		rows = 1 << 16
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		var req []byte
		n := records.Len()
		for lo := 0; lo < n; lo += rows {
			hi := min(lo+rows, n)
			req = abi.AppendBatch(req[:0], records.Slice(lo, hi))
			_, out, err := in.Call(ctx, abi.OpWrite, nil, req)
			if err != nil {
				return fmt.Errorf("records %d–%d: %w", lo, hi-1, err)
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
		}
		_, out, err := in.Call(ctx, abi.OpWriteEnd, nil, nil)
		if err != nil {
			return fmt.Errorf("end of stream: %w", err)
		}
		_, err = w.Write(out)
		return err
	})
	if err != nil {
		return fmt.Errorf("write trace %s (format %s): %w", path, opt.Format, err)
	}
	return nil
}

// FormatForPath picks an output format from a file name's extension:
// .pcap → pcap, .pcapng → pcap with pcapng = true, .csv → netflow-csv,
// .log → zeek-conn.
func FormatForPath(path string) (format string, params map[string]any, ok bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pcap":
		return "pcap", nil, true
	case ".pcapng":
		return "pcap", map[string]any{"pcapng": true}, true
	case ".csv":
		return "netflow-csv", nil, true
	case ".log":
		return "zeek-conn", nil, true
	}
	return "", nil, false
}
