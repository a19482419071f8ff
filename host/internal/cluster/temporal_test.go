package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// temporalCLI finds the temporal CLI (which runs a dev server) on PATH or
// in $(go env GOPATH)/bin.
func temporalCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "temporal")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Skip("the temporal CLI is not on PATH nor in $(go env GOPATH)/bin: install it with " +
		"`go install github.com/temporalio/cli/cmd/temporal@v1.5.1` to run the cluster integration test")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// repoRoot is the module root, three levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// devServer starts a Temporal dev server (in-memory) on loopback ports and
// returns its address once it answers.
func devServer(t *testing.T, bin string) string {
	t.Helper()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var log bytes.Buffer
	cmd := exec.Command(bin, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", fmt.Sprint(port), "--http-port", fmt.Sprint(freePort(t)), "--metrics-port", fmt.Sprint(freePort(t)),
		"--log-level", "error")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		cl, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietLogger()})
		cancel()
		if err == nil {
			cl.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporal dev server at %s did not answer: %v\n%s", addr, err, log.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestClusterSurvivesKilledWorker runs a three-chunk pipeline on a real
// Temporal dev server with two worker processes, SIGKILLs the worker that
// trains chunk 0 mid-training, and checks the run completes (the chunk
// retried on the other worker from its last checkpoint) with the very
// synthetic records of a local run with the same seed.
func TestClusterSurvivesKilledWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server and trains a model")
	}
	bin := temporalCLI(t)
	tmp := t.TempDir()
	netshare := filepath.Join(tmp, "netshare")
	build := exec.Command("go", "build", "-o", netshare, "./host/cmd/netshare")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := devServer(t, bin)

	// Enough steps that chunk 0 is still training when the worker dies:
	// the assembly sgemm trains this model at hundreds of steps a second.
	text := strings.NewReplacer("steps = 12", "steps = 6000", "checkpoint_every = 4", "checkpoint_every = 100", "log_every = 2", "log_every = 10").Replace(tiny)
	artifacts := filepath.Join(tmp, "artifacts")
	pipe := filepath.Join(tmp, "pipeline.toml")
	full := text + fmt.Sprintf("[cluster]\nengine = \"temporal\"\naddress = %q\ntask_queue = \"it\"\nartifacts = %q\n", addr, artifacts)
	if err := os.WriteFile(pipe, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	// The local run for comparison trains meanwhile.
	localDir := t.TempDir()
	localErr := make(chan error, 1)
	go func() { localErr <- runLocally(localDir, text) }()

	type worker struct {
		cmd *exec.Cmd
		log *bytes.Buffer
	}
	workers := map[int]*worker{}
	for i := 0; i < 2; i++ {
		w := &worker{cmd: exec.Command(netshare, "worker", "-c", pipe, "-cache", testCache), log: &bytes.Buffer{}}
		w.cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers[w.cmd.Process.Pid] = w
		t.Cleanup(func() {
			w.cmd.Process.Kill()
			w.cmd.Wait()
			if t.Failed() {
				t.Logf("worker %d log:\n%s", w.cmd.Process.Pid, w.log.String())
			}
		})
	}

	// A heartbeat timeout short enough that the killed worker's chunk is
	// retried soon, long enough that a loaded machine (the server and both
	// workers starved of CPU) does not time out the surviving worker's
	// heartbeats too: at 2 s, a load average of 20-30 on 2 cores did.
	out, err := exec.Command(netshare, "run", "-c", pipe, "-detach", "-heartbeat", "5s").Output()
	if err != nil {
		t.Fatalf("netshare run -detach: %v", err)
	}
	runID := strings.TrimSpace(string(out))
	if !strings.HasPrefix(runID, "netshare-") {
		t.Fatalf("run -detach printed %q, want the run id", runID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := Dial(ctx, Conn{Address: addr, Namespace: "default", TaskQueue: "it"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Wait until chunk 0 has made progress, then kill its worker.
	var victim int
	for victim == 0 {
		p, err := Describe(ctx, cl, runID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != "Running" {
			t.Fatalf("the run ended (%s) before a worker could be killed mid-training", p.Status)
		}
		for _, r := range p.Running {
			// Past two checkpoints (every 100 steps), so the retry resumes,
			// and far from the end, so the kill lands before chunk 0 is
			// done although the progress seen lags the worker.
			if r.Activity == "TrainChunk" && r.Chunk == 0 && r.Steps >= 200 && r.Steps <= 3000 && r.Worker != "" {
				for pid := range workers {
					if strings.HasPrefix(r.Worker, fmt.Sprintf("netshare-worker-%d@", pid)) {
						victim = pid
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := workers[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed worker %d while it trained chunk 0", victim)

	// Re-attach as a user would, and wait for the result.
	status := exec.CommandContext(ctx, netshare, "status", "-c", pipe, "-every", "500ms", runID)
	var stdout, stderr bytes.Buffer
	status.Stdout, status.Stderr = &stdout, &stderr
	if err := status.Run(); err != nil {
		t.Fatalf("netshare status: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "synthetic trace: "+filepath.Join(artifacts, "runs", runID)) {
		t.Errorf("status printed:\n%s", stdout.String())
	}
	res, err := Outcome(ctx, cl, runID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chunks %+v; chunk 0 took %s, fine-tuning %s", res.Chunks, res.Chunk0, res.FineTune)
	if len(res.Chunks) != 3 || res.Chunks[0].Pos != 0 || res.Chunks[0].Attempt < 2 {
		t.Fatalf("chunks %+v: want 3, chunk 0 retried after its worker died", res.Chunks)
	}
	for _, c := range res.Chunks {
		if c.Steps <= 0 {
			t.Errorf("chunk %d trained %d steps", c.Pos, c.Steps)
		}
	}
	checkResumed(t, filepath.Join(artifacts, res.RunDir, "train", "chunk-0", "losses.jsonl"))
	if err := <-localErr; err != nil {
		t.Fatalf("local run: %v", err)
	}
	sameRecords(t, localDir, filepath.Join(artifacts, res.RunDir))
}

// checkResumed reads a chunk's loss log: the second attempt appends from
// its checkpoint's step, so the steps go back at most once (not at all
// when the worker died right after a checkpoint), never to the beginning.
func checkResumed(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e struct {
			Step int `json:"step"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		steps = append(steps, e.Step)
	}
	back := 0
	for i := 1; i < len(steps); i++ {
		if steps[i] <= steps[i-1] {
			back++
			if steps[i] <= 100 {
				t.Fatalf("%s: after step %d the log goes back to step %d: the retry did not resume from a checkpoint", path, steps[i-1], steps[i])
			}
		}
	}
	if back > 1 {
		t.Fatalf("%s: the steps go back %d times, want at most once (one resumed attempt)", path, back)
	}
}
