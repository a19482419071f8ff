package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/netshare/netshare/host/internal/atomicfile"
	"github.com/netshare/netshare/host/internal/report"
)

func init() {
	register(command{
		name:    "report",
		summary: "rebuild a run's HTML fidelity report from its metrics.json",
		run:     runReport,
	})
}

// Names of the files in a run directory that the report command reads and
// writes.
const (
	metricsFileName = "metrics.json"
	reportFileName  = "report.html"
)

const reportUsage = `usage: netshare report RUN_DIR [flags]

Rebuilds RUN_DIR/report.html from RUN_DIR/metrics.json (schema in
docs/metrics.md). RUN_DIR may also be the path of a metrics.json file.

flags:
`

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	out := fs.String("o", "", "write the report to this `file` (default: report.html beside metrics.json)")
	fs.Usage = func() {
		fmt.Fprint(stderr, reportUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	in := pos[0]
	if st, err := os.Stat(in); err != nil {
		return err
	} else if st.IsDir() {
		in = filepath.Join(in, metricsFileName)
	}
	f, err := report.ReadMetricsFile(in)
	if err != nil {
		return err
	}
	dst := *out
	if dst == "" {
		dst = filepath.Join(filepath.Dir(in), reportFileName)
	}
	if err := atomicfile.Write(dst, func(w io.Writer) error { return report.Write(w, f.Data) }); err != nil {
		return err
	}
	fmt.Fprintln(stdout, dst)
	return nil
}
