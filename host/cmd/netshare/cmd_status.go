package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/netshare/netshare/host/internal/cluster"
)

func init() {
	register(command{name: "status", summary: "show a cluster run's progress, or wait for it: status RUN", run: runStatus})
}

func runStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	cf := addClusterFlags(fs)
	wait := fs.Bool("wait", true, "follow the run until it ends and print its result (false: print its state once)")
	asJSON := fs.Bool("json", false, "print the state as JSON (with -wait=false)")
	every := fs.Duration("every", 2*time.Second, "how often to poll while following")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want one run id (printed by netshare run)", errUsage)
	}
	id := fs.Arg(0)
	c, err := cf.resolve()
	if err != nil {
		return err
	}
	conn := cluster.ConnFrom(c, nil)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cl, err := cluster.Dial(ctx, conn, stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	if !*wait {
		p, err := cluster.Describe(ctx, cl, id)
		if err != nil {
			return err
		}
		if *asJSON {
			b, _ := json.MarshalIndent(p, "", "  ")
			fmt.Fprintln(stdout, string(b))
			return nil
		}
		fmt.Fprintln(stdout, p)
		return nil
	}
	res, err := cluster.Watch(ctx, cl, id, stderr, *every)
	if err != nil {
		return err
	}
	printClusterResult(stdout, func(p string) string { return storeLocation(c.Artifacts, p) }, res)
	return nil
}
