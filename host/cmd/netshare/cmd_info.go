package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/netshare/netshare"
	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/plugin"
	pipelinerun "github.com/netshare/netshare/host/internal/run"
)

func init() {
	register(command{name: "version", summary: "print netshare's version", run: runVersion})
	register(command{name: "plugins", summary: "list plugin components (kind, name, version, module)", run: runPlugins})
	register(command{name: "validate", summary: "check a pipeline file without running it", run: runValidate})
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "netshare %s (plugin ABI %d, %s %s/%s)\n", netshare.Version, abi.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runPlugins(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plugins", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	cfgPath := fs.String("c", "", "also load the modules this pipeline names")
	var modules multiFlag
	fs.Var(&modules, "module", "also load this .wasm module (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := plugin.Options{}
	if *cfgPath != "" {
		cfg, err := pipeline.LoadFile(*cfgPath, nil)
		if err != nil {
			return err
		}
		opts = pluginOptions(cfg)
	}
	for _, m := range modules {
		opts.Extra = append(opts.Extra, plugin.ModuleSpec{Path: m})
	}
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, opts)
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	entries := h.Manifest()
	if *asJSON {
		type row struct {
			Kind    abi.Kind    `json:"kind"`
			Name    string      `json:"name"`
			Version string      `json:"version"`
			Module  string      `json:"module"`
			SHA256  string      `json:"sha256"`
			Summary string      `json:"summary,omitempty"`
			Params  []abi.Param `json:"params,omitempty"`
		}
		rows := make([]row, len(entries))
		for i, e := range entries {
			c := e.Component
			rows[i] = row{c.Kind, c.Name, c.Version, e.Module, e.SHA256, c.Summary, c.Params}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tVERSION\tMODULE\tSUMMARY")
	for _, e := range entries {
		c := e.Component
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Kind, c.Name, c.Version, e.Module, c.Summary)
	}
	return tw.Flush()
}

// pluginOptions turns a pipeline's [plugins] section into runtime options.
func pluginOptions(cfg *pipeline.Config) plugin.Options { return pipelinerun.PluginOptions(cfg) }

func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	var sets multiFlag
	fs.Var(&sets, "set", "override a key: key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := ""
	if fs.NArg() > 0 {
		path = fs.Arg(0)
	}
	cfg, err := loadPipeline(path, sets)
	if err != nil {
		return err
	}
	ctx := context.Background()
	h, err := plugin.NewHost(ctx, pluginOptions(cfg))
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	if err := cfg.ValidateComponents(h); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", cfg.Source)
	return nil
}

// loadPipeline reads path, or the embedded default when path is empty.
func loadPipeline(path string, sets []string) (*pipeline.Config, error) {
	if path == "" {
		return pipeline.Parse("netshare.toml (embedded default)", ".", netshare.DefaultPipeline, sets)
	}
	return pipeline.LoadFile(path, sets)
}
