package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/trace"
)

func init() {
	register(command{name: "convert", summary: "convert a trace between formats (pcap → flows aggregates packets)", run: runConvert})
}

// Formats whose records are flows or packets; convert aggregates packets
// for the first and refuses flows for the second. Formats from other
// modules get the records as they are.
var (
	flowFormats   = map[string]bool{"netflow-csv": true, "zeek-conn": true}
	packetFormats = map[string]bool{"pcap": true}
)

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", stderr)
	from := fs.String("from", "", "input format (default: detect from content)")
	to := fs.String("to", "", "output format (default: from OUT's extension: .pcap, .pcapng, .csv, .log)")
	fromParams := fs.String("from-params", "", "input format parameters as a JSON object")
	toParams := fs.String("to-params", "", "output format parameters as a JSON object")
	idle := fs.Duration("idle-timeout", flow.DefaultIdleTimeout*time.Microsecond, "packets → flows: a flow ends after this long without packets")
	active := fs.Duration("active-timeout", 0, "packets → flows: a flow ends after lasting this long (0: never)")
	seed := fs.Int64("seed", 1, "seed for the encoder (e.g. Zeek uids)")
	var modules multiFlag
	fs.Var(&modules, "module", "also load this .wasm plugin module (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: netshare convert IN OUT [--from F] [--to F] [--from-params JSON] [--to-params JSON]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errUsage
	}
	in, out := pos[0], pos[1]
	inParams, err := jsonParams("from-params", *fromParams)
	if err != nil {
		return err
	}
	outParams, err := jsonParams("to-params", *toParams)
	if err != nil {
		return err
	}
	outFormat := *to
	if outFormat == "" {
		f, p, ok := trace.FormatForPath(out)
		if !ok {
			return fmt.Errorf("cannot tell the output format from %q: use --to, or an extension .pcap, .pcapng, .csv or .log", out)
		}
		outFormat = f
		// Parameters implied by the extension (pcapng) yield to explicit ones.
		merged := maps.Clone(p)
		if merged == nil {
			merged = map[string]any{}
		}
		maps.Copy(merged, outParams)
		outParams = merged
	}
	if *idle <= 0 {
		return fmt.Errorf("--idle-timeout must be positive, got %v", *idle)
	}

	ctx := context.Background()
	h, err := openHost(ctx, modules)
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	tr, err := trace.Read(ctx, h, []string{in}, trace.Options{Format: *from, Params: inParams})
	if err != nil {
		return err
	}
	inFormat := tr.Files[0].Format
	records := tr.Records
	isPackets := records.Column("pkt_len") != nil && records.Column("pkt") == nil
	note := ""
	switch {
	case isPackets && flowFormats[outFormat]:
		n := records.Len()
		records, err = flow.Aggregate(records, flow.AggregateOptions{IdleTimeout: idle.Microseconds(), ActiveTimeout: active.Microseconds()})
		if err != nil {
			return fmt.Errorf("convert %s: %w", in, err)
		}
		note = fmt.Sprintf(" (%d packets aggregated into flows, idle timeout %v)", n, *idle)
	case !isPackets && packetFormats[outFormat]:
		return fmt.Errorf("convert %s (%s) to %s: flow records do not carry per-packet sizes, times or headers, so they cannot become packets; convert packets to flows, not back", in, inFormat, outFormat)
	}
	if err := trace.Write(ctx, h, out, records, trace.WriteOptions{Format: outFormat, Params: outParams, Seed: *seed}); err != nil {
		return err
	}
	var skipped int64
	for _, n := range tr.Files[0].Skipped {
		skipped += n
	}
	fmt.Fprintf(stdout, "%s (%s): %d records, %d skipped → %s (%s): %d records%s\n",
		in, inFormat, tr.Files[0].Records, skipped, out, outFormat, records.Len(), note)
	return nil
}
