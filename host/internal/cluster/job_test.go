package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/pipeline"
)

// jobPipeline reads a trace file next to the pipeline, names an extra
// plugin module and a pretrained encoder file, all by relative paths.
const jobPipeline = `
seed = 5
run_dir = "runs/local"
[input]
paths = ["in/trace.pcap", "@sample"]
[plugins]
cache_dir = "cache"
[[plugins.module]]
path = "mods/extra.wasm"
[[fields]]
name = "pkt_len"
role = "feature"
encoder = "continuous"
[fields.params]
pretrained = "enc/state.json"
[cluster]
engine = "temporal"
artifacts = "store"
`

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// submit makes the job of src/p.toml, with its store where the pipeline
// says.
func submit(t *testing.T, src string) (Job, *Store, error) {
	t.Helper()
	cfg, err := pipeline.LoadFile(filepath.Join(src, "p.toml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := NewStore(cfg.Resolve(cfg.Cluster.Artifacts))
	if err != nil {
		t.Fatal(err)
	}
	job, err := NewJob(context.Background(), cfg, store)
	return job, store, err
}

// mountElsewhere moves the store's folder, as a worker mounting the
// store at another path sees it.
func mountElsewhere(t *testing.T, store *Store) *Store {
	t.Helper()
	moved := filepath.Join(t.TempDir(), "mnt")
	if err := os.Rename(store.Root, moved); err != nil {
		t.Fatal(err)
	}
	there, err := NewStore(moved)
	if err != nil {
		t.Fatal(err)
	}
	return there
}

func TestNewJobCopiesInputsIntoTheStore(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"in/trace.pcap": "packets", "mods/extra.wasm": "\x00asm", "enc/state.json": `{"lo":0}`}
	writeFiles(t, src, files)
	if err := os.WriteFile(filepath.Join(src, "p.toml"), []byte(jobPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	job, store, err := submit(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Artifacts) != 3 {
		t.Fatalf("artifacts %v, want the trace, the module and the pretrained file", job.Artifacts)
	}
	// A worker mounting the store elsewhere sees the same run.
	there := mountElsewhere(t, store)
	moved := there.Root
	ws, err := there.Checkout(context.Background(), job, nil)
	if err != nil {
		t.Fatal(err)
	}
	wcfg, err := job.Config(ws, "/var/cache/w")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := wcfg.Resolve(wcfg.RunDir), filepath.Join(moved, "runs", job.RunID); got != want {
		t.Errorf("run dir %s, want %s", got, want)
	}
	if wcfg.Plugins.CacheDir != "/var/cache/w" {
		t.Errorf("cache dir %q, want the worker's", wcfg.Plugins.CacheDir)
	}
	paths := []string{wcfg.Resolve(wcfg.Input.Paths[0]), wcfg.Resolve(wcfg.Plugins.Modules[0].Path),
		wcfg.Resolve(wcfg.Fields[0].Params["pretrained"].(string))}
	for i, name := range []string{"in/trace.pcap", "mods/extra.wasm", "enc/state.json"} {
		b, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(b) != files[name] {
			t.Errorf("%s reads %q on the worker", name, b)
		}
		if !strings.HasPrefix(paths[i], filepath.Join(moved, "cas", "sha256")+"/") {
			t.Errorf("%s is at %s, outside the store", name, paths[i])
		}
	}
	if wcfg.Input.Paths[1] != "@sample" {
		t.Errorf("input %q, want @sample kept", wcfg.Input.Paths[1])
	}

	// A damaged input stops the worker, naming the object.
	obj := paths[0]
	os.Chmod(obj, 0o644)
	if err := os.WriteFile(obj, []byte("pack"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := there.Checkout(context.Background(), job, nil); err == nil || !strings.Contains(err.Error(), "damaged or partial") {
		t.Fatalf("damaged input: got %v", err)
	}
}

func TestRunIDFollowsContent(t *testing.T) {
	tests := []struct {
		name string
		edit func(dir string) []string // returns overrides
		same bool
	}{
		{"unchanged", func(string) []string { return nil }, true},
		{"other run_dir", func(string) []string { return []string{"run_dir=elsewhere"} }, true},
		{"other cache_dir", func(string) []string { return []string{"plugins.cache_dir=/tmp/c"} }, true},
		{"other cluster", func(string) []string { return []string{"cluster.address=10.0.0.1:7233", "cluster.task_queue=q"} }, true},
		{"other seed", func(string) []string { return []string{"seed=6"} }, false},
		{"other trace content", func(dir string) []string {
			writeFiles(t, dir, map[string]string{"in/trace.pcap": "other packets"})
			return nil
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			writeFiles(t, src, map[string]string{"in/trace.pcap": "packets", "mods/extra.wasm": "\x00asm", "enc/state.json": "{}", "p.toml": jobPipeline})
			store, err := NewStore(filepath.Join(src, "store"))
			if err != nil {
				t.Fatal(err)
			}
			id := func(sets []string) string {
				cfg, err := pipeline.LoadFile(filepath.Join(src, "p.toml"), sets)
				if err != nil {
					t.Fatal(err)
				}
				job, err := NewJob(context.Background(), cfg, store)
				if err != nil {
					t.Fatal(err)
				}
				return job.RunID
			}
			a := id(nil)
			b := id(tc.edit(src))
			if (a == b) != tc.same {
				t.Fatalf("run ids %s and %s: want same = %v", a, b, tc.same)
			}
		})
	}
}

func TestNewJobNamesAMissingInput(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"p.toml": jobPipeline})
	cfg, err := pipeline.LoadFile(filepath.Join(src, "p.toml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := NewStore(filepath.Join(src, "store"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewJob(context.Background(), cfg, store)
	if err == nil || !strings.Contains(err.Error(), "input.paths[0]") || !strings.Contains(err.Error(), "trace.pcap") {
		t.Fatalf("got %v", err)
	}
}

// TestNewJobCopiesThePretrainedModel: privacy.pretrained, a relative path
// to a checkpoint file or to a run directory, reaches a worker that mounts
// the store elsewhere as the checkpoint itself.
func TestNewJobCopiesThePretrainedModel(t *testing.T) {
	const ckpt = "model bytes"
	for _, tc := range []struct {
		name, pretrained string
		files            map[string]string
		wantErr          string
	}{
		{"checkpoint file", "public/model.ckpt", map[string]string{"public/model.ckpt": ckpt}, ""},
		{"run directory", "public-run", map[string]string{
			"public-run/train/chunk-0/step-000000004.ckpt": "older",
			"public-run/train/chunk-0/step-000000008.ckpt": ckpt,
		}, ""},
		{"run directory without a model", "empty-run", map[string]string{"empty-run/stages.json": "{}"}, "no trained model"},
		{"a public run as the prior of default fields", "prior-run", map[string]string{
			"prior-run/train/chunk-0/step-000000008.ckpt": ckpt,
			"prior-run/encoders.json":                     "{}",
		}, "carries only the public model's checkpoint"},
		{"missing", "nowhere.ckpt", nil, "privacy.pretrained"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			files := map[string]string{"in/trace.pcap": "packets", "p.toml": `
[input]
paths = ["in/trace.pcap"]
[flows]
max_flow_len = 8
[privacy]
enabled = true
epsilon = 8.0
pretrained = "` + tc.pretrained + `"
[cluster]
engine = "temporal"
artifacts = "store"
`}
			for k, v := range tc.files {
				files[k] = v
			}
			writeFiles(t, src, files)
			job, store, err := submit(t, src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			there := mountElsewhere(t, store)
			moved := there.Root
			ws, err := there.Checkout(context.Background(), job, nil)
			if err != nil {
				t.Fatal(err)
			}
			wcfg, err := job.Config(ws, "")
			if err != nil {
				t.Fatal(err)
			}
			p := wcfg.Resolve(wcfg.Privacy.Pretrained)
			if !strings.HasPrefix(p, filepath.Join(moved, "cas", "sha256")+"/") {
				t.Errorf("pretrained model at %s, outside the store", p)
			}
			if b, err := os.ReadFile(p); err != nil || string(b) != ckpt {
				t.Errorf("pretrained model reads %q, %v on the worker; want the newest checkpoint", b, err)
			}
		})
	}
}
