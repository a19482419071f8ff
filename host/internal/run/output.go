package run

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/netshare/netshare/host/internal/flow"
	"github.com/netshare/netshare/host/internal/score"
	"github.com/netshare/netshare/host/internal/trace"
)

// outputPath is the synthetic trace's path and format.
func (r *runner) outputPath() (path, format string, params map[string]any) {
	o := r.cfg.Output
	name := o.Path
	if name == "" {
		name = "synthetic"
	}
	format, params = o.Format, o.Params
	if format == "" {
		if f, p, ok := trace.FormatForPath(name); ok {
			format = f
			if params == nil {
				params = p
			}
		} else {
			format = r.inFmt
		}
	}
	if filepath.Ext(name) == "" {
		name += map[string]string{"pcap": ".pcap", "netflow-csv": ".csv", "zeek-conn": ".log"}[format]
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(r.dir, "output", name)
	}
	return name, format, params
}

func (r *runner) output(ctx context.Context) (bool, error) {
	path, format, params := r.outputPath()
	if format == "" {
		return false, fmt.Errorf("no output format: set output.format")
	}
	key := newKey("output").str("generate", r.keys["generate"]).str("path", path).str("format", format).json("params", params).sum()
	r.res.Output = path
	if r.stages.fresh("output", key, path) {
		return true, nil
	}
	r.stages.forget("output")
	records := r.synthetic
	// Flow formats take flow records: synthetic packets are aggregated
	// into flows the way `netshare convert` does.
	if format != "pcap" && score.KindOf(records) == score.Packets {
		var err error
		if records, err = flow.Aggregate(records, flow.AggregateOptions{}); err != nil {
			return false, err
		}
	}
	if err := trace.Write(ctx, r.host, path, records, trace.WriteOptions{Format: format, Params: params, Seed: r.cfg.Seed}); err != nil {
		return false, err
	}
	return false, r.stages.done("output", key)
}
