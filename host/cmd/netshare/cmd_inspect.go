package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/trace"
)

func init() {
	register(command{name: "inspect", summary: "summarise traces: records, flows, time span, protocols, top talkers, skipped records", run: runInspect})
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments (`inspect a.csv --json b.csv`), which the flag
// package alone does not allow.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// jsonParams reads a --params value: a JSON object of format parameters.
func jsonParams(flagName, s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("--%s: want a JSON object of format parameters: %w", flagName, err)
	}
	return m, nil
}

// openHost loads the builtin module and any --module files.
func openHost(ctx context.Context, modules []string) (*plugin.Host, error) {
	opts := plugin.Options{}
	for _, m := range modules {
		opts.Extra = append(opts.Extra, plugin.ModuleSpec{Path: m})
	}
	return plugin.NewHost(ctx, opts)
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", stderr)
	format := fs.String("format", "", "format of the files (default: detect from content)")
	params := fs.String("params", "", `format parameters as a JSON object, e.g. '{"header":false,"table":{…}}'`)
	asJSON := fs.Bool("json", false, "print one JSON object (keys in docs/formats.md)")
	top := fs.Int("top", 5, "how many top talkers to list")
	key := fs.String("key", strings.Join(flow.FiveTuple, ","), "comma-separated columns that identify a flow")
	var modules multiFlag
	fs.Var(&modules, "module", "also load this .wasm plugin module (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: netshare inspect FILE... [--format F] [--params JSON] [--json] [--top N]")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return errUsage
	}
	p, err := jsonParams("params", *params)
	if err != nil {
		return err
	}
	ctx := context.Background()
	h, err := openHost(ctx, modules)
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	tr, err := trace.Read(ctx, h, files, trace.Options{Format: *format, Params: p})
	if err != nil {
		return err
	}
	sum, err := summarise(tr, strings.Split(*key, ","), *top)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	return sum.print(stdout)
}

// Summary is what inspect reports; its JSON keys are documented in
// docs/formats.md.
type Summary struct {
	Files     []trace.FileStats `json:"files"`
	Kind      string            `json:"kind"` // "packets" or "flows"
	Records   int64             `json:"records"`
	Flows     int               `json:"flows"`
	Skipped   map[string]int64  `json:"skipped"`
	FirstTS   int64             `json:"first_ts"`
	LastTS    int64             `json:"last_ts"`
	FirstTime string            `json:"first_time,omitempty"`
	LastTime  string            `json:"last_time,omitempty"`
	Duration  float64           `json:"duration_s"`
	Packets   int64             `json:"packets"`
	Bytes     int64             `json:"bytes"`
	Protocols map[string]int64  `json:"protocols"`
	TopSrc    []Talker          `json:"top_sources"`
	TopDst    []Talker          `json:"top_destinations"`
	PerFlow   Distribution      `json:"records_per_flow"`
}

// Talker is one address with its share of the trace.
type Talker struct {
	IP      string `json:"ip"`
	Records int64  `json:"records"`
	Packets int64  `json:"packets"`
	Bytes   int64  `json:"bytes"`
}

// Distribution summarises records per flow.
type Distribution struct {
	Min       int      `json:"min"`
	Mean      float64  `json:"mean"`
	P50       int      `json:"p50"`
	P90       int      `json:"p90"`
	P99       int      `json:"p99"`
	Max       int      `json:"max"`
	Histogram []Bucket `json:"histogram"`
}

// Bucket counts flows with more than the previous bucket's UpTo records and
// at most UpTo (powers of two).
type Bucket struct {
	UpTo  int `json:"upto"`
	Flows int `json:"flows"`
}

func summarise(tr *trace.Trace, key []string, top int) (*Summary, error) {
	b := tr.Records
	s := &Summary{Files: tr.Files, Skipped: map[string]int64{}, Protocols: map[string]int64{}, Records: int64(b.Len())}
	for _, f := range tr.Files {
		for k, v := range f.Skipped {
			s.Skipped[k] += v
		}
	}
	s.Kind = "flows"
	if b.Column("pkt_len") != nil && b.Column("pkt") == nil {
		s.Kind = "packets"
	}
	n := b.Len()
	if n == 0 {
		return s, nil
	}
	if ts := b.Column("ts"); ts != nil && (ts.Type == abi.TypeTime || ts.Type == abi.TypeI64) {
		// Records are merged by time, so the ends are the extremes.
		s.FirstTS, s.LastTS = ts.I64[0], ts.I64[n-1]
		s.FirstTime = time.UnixMicro(s.FirstTS).UTC().Format(time.RFC3339Nano)
		s.LastTime = time.UnixMicro(s.LastTS).UTC().Format(time.RFC3339Nano)
		s.Duration = float64(s.LastTS-s.FirstTS) / 1e6
	}
	pkts := func(r int) int64 { return 1 }
	byts := func(r int) int64 { return 0 }
	if c := b.Column("pkt"); c != nil && c.Type == abi.TypeI64 {
		pkts = func(r int) int64 { return c.I64[r] }
	}
	if c := b.Column("byt"); c != nil && c.Type == abi.TypeI64 {
		byts = func(r int) int64 { return c.I64[r] }
	} else if c := b.Column("pkt_len"); c != nil && c.Type == abi.TypeU16 {
		byts = func(r int) int64 { return int64(c.U16[r]) }
	}
	for r := 0; r < n; r++ {
		s.Packets += pkts(r)
		s.Bytes += byts(r)
	}
	if c := b.Column("proto"); c != nil && c.Type == abi.TypeU8 {
		for _, p := range c.U8 {
			s.Protocols[protoLabel(p)]++
		}
	}
	s.TopSrc = talkers(b.Column("srcip"), top, pkts, byts)
	s.TopDst = talkers(b.Column("dstip"), top, pkts, byts)
	for _, k := range key {
		if b.Column(k) == nil {
			return s, nil // no flows to count without the key (say, a trace without ports)
		}
	}
	set, err := flow.Split(b, flow.Options{Key: key})
	if err != nil {
		return nil, err
	}
	s.Flows = set.NumFlows
	lens := make([]int, set.NumFlows)
	total := 0
	for id := range lens {
		lens[id] = len(set.Flow(id))
		total += lens[id]
	}
	sort.Ints(lens)
	q := func(p float64) int { return lens[min(len(lens)-1, int(math.Ceil(p*float64(len(lens))))-1)] }
	s.PerFlow = Distribution{Min: lens[0], Max: lens[len(lens)-1], Mean: float64(total) / float64(len(lens)), P50: q(0.5), P90: q(0.9), P99: q(0.99)}
	for upto, i := 1, 0; i < len(lens); upto *= 2 {
		j := sort.SearchInts(lens, upto+1)
		if j > i {
			s.PerFlow.Histogram = append(s.PerFlow.Histogram, Bucket{UpTo: upto, Flows: j - i})
		}
		i = j
	}
	return s, nil
}

// protoLabel names a protocol number as the report's plots do, or gives
// the number.
func protoLabel(p uint8) string {
	n := strconv.Itoa(int(p))
	if name, ok := score.ProtoLabels[n].(string); ok {
		return name
	}
	return n
}

func talkers(c *abi.Column, top int, pkts, byts func(int) int64) []Talker {
	if c == nil || c.Type != abi.TypeIPv4 || top <= 0 {
		return nil
	}
	type agg struct{ recs, pkts, byts int64 }
	m := map[uint32]*agg{}
	for r, ip := range c.U32 {
		a := m[ip]
		if a == nil {
			a = &agg{}
			m[ip] = a
		}
		a.recs++
		a.pkts += pkts(r)
		a.byts += byts(r)
	}
	ips := make([]uint32, 0, len(m))
	for ip := range m {
		ips = append(ips, ip)
	}
	sort.Slice(ips, func(i, j int) bool {
		a, b := m[ips[i]], m[ips[j]]
		if a.recs != b.recs {
			return a.recs > b.recs
		}
		return ips[i] < ips[j]
	})
	var out []Talker
	for _, ip := range ips[:min(top, len(ips))] {
		a := m[ip]
		out = append(out, Talker{IP: netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}).String(), Records: a.recs, Packets: a.pkts, Bytes: a.byts})
	}
	return out
}

func (s *Summary) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range s.Files {
		fmt.Fprintf(tw, "file\t%s\t%s, %d records%s\n", f.Path, f.Format, f.Records, skippedText(f.Skipped))
		keys := make([]string, 0, len(f.Notes))
		for k := range f.Notes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "\t  %s:\t%s\n", k, f.Notes[k])
		}
	}
	fmt.Fprintf(tw, "records\t%d %s%s\n", s.Records, s.Kind, skippedText(s.Skipped))
	fmt.Fprintf(tw, "flows\t%d\n", s.Flows)
	if s.Records > 0 {
		fmt.Fprintf(tw, "time\t%s to %s (%.6g s)\n", s.FirstTime, s.LastTime, s.Duration)
		fmt.Fprintf(tw, "volume\t%d packets, %d bytes\n", s.Packets, s.Bytes)
		fmt.Fprintf(tw, "protocols\t%s\n", protoText(s.Protocols, s.Records))
		fmt.Fprintf(tw, "records per flow\tmin %d, median %d, p90 %d, p99 %d, max %d, mean %.3g\n",
			s.PerFlow.Min, s.PerFlow.P50, s.PerFlow.P90, s.PerFlow.P99, s.PerFlow.Max, s.PerFlow.Mean)
		var hist []string
		for _, b := range s.PerFlow.Histogram {
			hist = append(hist, fmt.Sprintf("≤%d: %d", b.UpTo, b.Flows))
		}
		fmt.Fprintf(tw, "\t%s\n", strings.Join(hist, ", "))
		for _, t := range []struct {
			name string
			list []Talker
		}{{"top sources", s.TopSrc}, {"top destinations", s.TopDst}} {
			for i, tk := range t.list {
				label := ""
				if i == 0 {
					label = t.name
				}
				fmt.Fprintf(tw, "%s\t%s\t%d records, %d packets, %d bytes\n", label, tk.IP, tk.Records, tk.Packets, tk.Bytes)
			}
		}
	}
	return tw.Flush()
}

func skippedText(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	var total int64
	for k, v := range m {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return fmt.Sprintf("; skipped %d (%s)", total, strings.Join(parts, ", "))
}

func protoText(m map[string]int64, total int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d (%.1f%%)", k, m[k], 100*float64(m[k])/float64(total))
	}
	return strings.Join(parts, ", ")
}
