package cluster

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/netshare/netshare/host/internal/pipeline"
	"github.com/netshare/netshare/host/internal/run"
)

// tiny is a pipeline small enough to run end to end in seconds (the one
// of host/internal/run's tests, with three chunks).
const tiny = `
seed = 3
[input]
paths = ["@sample"]
[flows]
chunks = 3
[model]
attr_gen_units = 16
attr_gen_layers = 2
critic_units = 16
critic_layers = 2
attr_critic_units = 16
attr_critic_layers = 2
lstm_units = 8
sample_len = 8
batch_size = 32
critic_rounds = 1
steps = 12
checkpoint_every = 4
finetune_fraction = 0.5
workers = 2
log_every = 2
`

var testCache = filepath.Join(os.TempDir(), "netshare-test-wazero-cache")

// fakeStages records the order the workflow calls its activities in.
type fakeStages struct {
	mu      sync.Mutex
	calls   []string
	chunks  int
	trained bool
	fail    int // a chunk whose training fails, or -1
}

func (f *fakeStages) note(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeStages) register(env *testsuite.TestWorkflowEnvironment) {
	env.RegisterWorkflowWithOptions(Pipeline, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(func(ctx context.Context, job Job) (Prepared, error) {
		f.note("prepare")
		index := make([]int, f.chunks)
		for i := range index {
			index[i] = i
		}
		return Prepared{Chunks: f.chunks, Trained: f.trained, Index: index}, nil
	}, activity.RegisterOptions{Name: activityPrepare})
	env.RegisterActivityWithOptions(func(ctx context.Context, job Job) error {
		f.note("attributes")
		return nil
	}, activity.RegisterOptions{Name: activityAttributes})
	env.RegisterActivityWithOptions(func(ctx context.Context, job Job, pos, k int) error {
		f.note("generate " + string(rune('0'+k)))
		return nil
	}, activity.RegisterOptions{Name: activityGenerate})
	env.RegisterActivityWithOptions(func(ctx context.Context, job Job, pos, k int) (ChunkDone, error) {
		f.note("train " + string(rune('0'+pos)))
		if pos == f.fail {
			return ChunkDone{}, errors.New("out of memory")
		}
		return ChunkDone{Pos: pos, Steps: 10 + pos}, nil
	}, activity.RegisterOptions{Name: activityTrainChunk})
	env.RegisterActivityWithOptions(func(ctx context.Context, job Job) (*Result, error) {
		f.note("finish")
		return &Result{Output: "runs/x/out.pcap"}, nil
	}, activity.RegisterOptions{Name: activityFinish})
}

func TestWorkflowOrder(t *testing.T) {
	tests := []struct {
		name    string
		chunks  int
		trained bool
		fail    int
		// first and last calls, in order; the ones between are the
		// fine-tuned chunks, then the generated ones, in any order.
		first, last []string
		middle      int
		wantErr     string
	}{
		{name: "three chunks", chunks: 3, fail: -1, first: []string{"prepare", "train 0"}, middle: 2 + 1 + 3, last: []string{"finish"}},
		{name: "one chunk", chunks: 1, fail: -1, first: []string{"prepare", "train 0", "attributes", "generate 0"}, last: []string{"finish"}},
		{name: "already trained", chunks: 3, trained: true, fail: -1, first: []string{"prepare", "attributes"}, middle: 3, last: []string{"finish"}},
		{name: "chunk 0 fails", chunks: 3, fail: 0, first: []string{"prepare", "train 0"}, wantErr: "train chunk 0"},
		{name: "chunk 2 fails", chunks: 4, fail: 2, first: []string{"prepare", "train 0"}, middle: 3, wantErr: "train chunk 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := quietSuite().NewTestWorkflowEnvironment()
			f := &fakeStages{chunks: tc.chunks, trained: tc.trained, fail: tc.fail}
			f.register(env)
			env.ExecuteWorkflow(WorkflowName, Job{RunID: "r", HeartbeatTimeout: time.Second})
			if !env.IsWorkflowCompleted() {
				t.Fatal("workflow did not complete")
			}
			err := env.GetWorkflowError()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			// Failed activities are retried: count each call once.
			var calls []string
			seen := map[string]bool{}
			for _, c := range f.calls {
				if !seen[c] {
					seen[c] = true
					calls = append(calls, c)
				}
			}
			want := len(tc.first) + tc.middle + len(tc.last)
			if len(calls) != want {
				t.Fatalf("calls %v, want %d", calls, want)
			}
			for i, c := range tc.first {
				if calls[i] != c {
					t.Fatalf("calls %v: call %d is %s, want %s", calls, i, calls[i], c)
				}
			}
			for i, c := range tc.last {
				if got := calls[len(calls)-len(tc.last)+i]; got != c {
					t.Fatalf("calls %v: want %s at the end", calls, c)
				}
			}
			// The attributes after every chunk is trained, every chunk
			// generated after the attributes.
			lastTrain, attrs, firstGen := -1, -1, len(calls)
			for i, c := range calls {
				switch {
				case strings.HasPrefix(c, "train "):
					lastTrain = i
				case c == "attributes":
					attrs = i
				case strings.HasPrefix(c, "generate "):
					firstGen = min(firstGen, i)
				}
			}
			if tc.wantErr == "" && !(lastTrain < attrs && attrs < firstGen) {
				t.Fatalf("calls %v: want training, then the attributes, then the chunks generated", calls)
			}
			if tc.wantErr == "" && !tc.trained {
				var res Result
				if err := env.GetWorkflowResult(&res); err != nil {
					t.Fatal(err)
				}
				if len(res.Chunks) != tc.chunks {
					t.Fatalf("result lists %d chunks, want %d", len(res.Chunks), tc.chunks)
				}
			}
		})
	}
}

// TestWorkflowMatchesLocalRun runs the real activities in Temporal's test
// environment (no server) and checks the synthetic records equal those of
// a local run with the same seed.
func TestWorkflowMatchesLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	local := localRun(t, tiny)
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	job := newTestJob(t, store, tiny)
	env := quietSuite().NewTestWorkflowEnvironment()
	var log bytes.Buffer
	Register(env, &Activities{Store: store, CacheDir: testCache, Log: &log})
	env.SetTestTimeout(2 * time.Minute) // real training, not simulated time
	env.ExecuteWorkflow(WorkflowName, job)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var res Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Chunks) != 3 || res.Output == "" || filepath.IsAbs(res.Output) {
		t.Fatalf("result %+v", res)
	}
	sameRecords(t, local, filepath.Join(store.Root, res.RunDir))
}

// quietSuite is a test suite whose SDK log (every retry of a failing
// activity) stays out of the test output.
func quietSuite() *testsuite.WorkflowTestSuite {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(quietLogger())
	return s
}

func quietLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func localRun(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := runLocally(dir, text); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runLocally runs the pipeline on this machine in dir.
func runLocally(dir, text string) error {
	cfg, err := pipeline.Parse("tiny.toml", dir, []byte(text), []string{"run_dir=" + dir, "plugins.cache_dir=" + testCache})
	if err != nil {
		return err
	}
	_, err = run.Run(context.Background(), cfg, run.Options{})
	return err
}

func newTestJob(t *testing.T, store Artifacts, text string) Job {
	t.Helper()
	src := t.TempDir()
	cfg, err := pipeline.Parse(filepath.Join(src, "tiny.toml"), src, []byte(text+"\n[cluster]\nengine = \"temporal\"\nartifacts = \""+store.String()+"\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	job, err := NewJob(context.Background(), cfg, store)
	if err != nil {
		t.Fatal(err)
	}
	job.HeartbeatTimeout = DefaultHeartbeatTimeout
	return job
}

func sameRecords(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(filepath.Join(a, "generated", "records.bin"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(filepath.Join(b, "generated", "records.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("the cluster run generated other records than the local run (%d vs %d bytes)", len(y), len(x))
	}
}
