package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"

	"github.com/netshare/netshare/host/internal/cluster"
	"github.com/netshare/netshare/host/internal/pipeline"
)

func init() {
	register(command{name: "worker", summary: "serve a Temporal task queue: train chunks of cluster runs", run: runWorker})
}

// clusterFlags are the connection settings every cluster command takes;
// a flag overrides the [cluster] section of the -c file.
type clusterFlags struct {
	cfgPath                              *string
	address, namespace, queue, artifacts *string
}

func addClusterFlags(fs *flag.FlagSet) *clusterFlags {
	f := &clusterFlags{}
	f.cfgPath = fs.String("c", "", "TOML `file` whose [cluster] section to use (a pipeline, or just that section)")
	f.address = fs.String("address", "", "Temporal frontend `host:port` (default: [cluster] address, else localhost:7233)")
	f.namespace = fs.String("namespace", "", "Temporal `namespace` (default: [cluster] namespace, else default)")
	f.queue = fs.String("queue", "", "task `queue` (default: [cluster] task_queue, else netshare)")
	f.artifacts = fs.String("artifacts", "", "artifact store: a `directory` every worker reaches, or s3://bucket/prefix (default: [cluster] artifacts)")
	return f
}

// resolve reads only the [cluster] section of the -c file, so a worker
// can be given a file with nothing else (it learns each run's pipeline
// from the run), then applies the flags.
func (f *clusterFlags) resolve() (pipeline.Cluster, error) {
	c := pipeline.Default().Cluster
	if *f.cfgPath != "" {
		var doc struct {
			Cluster *pipeline.Cluster `toml:"cluster"`
		}
		doc.Cluster = &c
		if _, err := toml.DecodeFile(*f.cfgPath, &doc); err != nil {
			return c, fmt.Errorf("%s: %w", *f.cfgPath, err)
		}
		// Paths in the file are relative to it.
		dir := filepath.Dir(*f.cfgPath)
		for _, p := range []*string{&c.Artifacts, &c.TLS.CA, &c.TLS.Cert, &c.TLS.Key, &c.APIKeyFile} {
			if *p != "" && !filepath.IsAbs(*p) && !strings.HasPrefix(*p, "s3://") {
				*p = filepath.Join(dir, *p)
			}
		}
	}
	for _, o := range []struct{ flag, dst *string }{{f.address, &c.Address}, {f.namespace, &c.Namespace},
		{f.queue, &c.TaskQueue}, {f.artifacts, &c.Artifacts}} {
		if *o.flag != "" {
			*o.dst = *o.flag
		}
	}
	return c, nil
}

func runWorker(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", stderr)
	cf := addClusterFlags(fs)
	slots := fs.Int("slots", 1, "chunks this worker trains at once (one per core the worker may use)")
	cache := fs.String("cache", defaultCacheDir(), "plugin compilation cache `directory` (\"\" for none)")
	scratch := fs.String("scratch", "", "with an s3:// artifact store: local `directory` for downloaded objects and activity workspaces (default: the user's cache directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c, err := cf.resolve()
	if err != nil {
		return err
	}
	conn := cluster.ConnFrom(c, nil)
	// SIGTERM too: a worker usually runs under a service manager.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := cluster.OpenArtifacts(ctx, c.Artifacts, *scratch)
	if err != nil {
		return err
	}
	return cluster.RunWorker(ctx, cluster.WorkerOptions{Conn: conn, Store: store, Slots: *slots, CacheDir: *cache, Log: stderr})
}

// defaultCacheDir is the user's cache directory for compiled plugins, so a
// restarted worker does not compile them again.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return d + "/netshare/wazero"
}
