package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/netshare/netshare/host/internal/run"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeS3 serves a real S3 API in process (gofakes3) and points the AWS
// SDK's standard chain at it through the environment, as a user would
// point it at MinIO: nothing about the endpoint or the credentials
// reaches the store but through that chain.
func fakeS3(t *testing.T, bucket string) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3":         srv.URL,
		"AWS_ACCESS_KEY_ID":           "netshare-test",
		"AWS_SECRET_ACCESS_KEY":       "netshare-test-secret",
		"AWS_REGION":                  "eu-west-1",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
}

func newS3Store(t *testing.T, spec string) *S3Store {
	t.Helper()
	s, err := NewS3Store(context.Background(), spec, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3StoreURL(t *testing.T) {
	tests := []struct {
		spec, bucket, prefix string
		bad                  bool
	}{
		{spec: "s3://b", bucket: "b"},
		{spec: "s3://b/", bucket: "b"},
		{spec: "s3://b/team/netshare/", bucket: "b", prefix: "team/netshare/"},
		{spec: "s3:///p", bad: true},
		{spec: "s3://b/p?region=x", bad: true},
	}
	fakeS3(t, "b")
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := NewS3Store(context.Background(), tc.spec, t.TempDir())
			if tc.bad {
				if err == nil || !strings.Contains(err.Error(), "s3://bucket/prefix") {
					t.Fatalf("got %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Bucket != tc.bucket || s.Prefix != tc.prefix {
				t.Fatalf("bucket %q prefix %q", s.Bucket, s.Prefix)
			}
		})
	}
}

func TestS3StoreObjectsAreVerified(t *testing.T) {
	fakeS3(t, "art")
	ctx := context.Background()
	s := newS3Store(t, "s3://art/runs-here")
	content := bytes.Repeat([]byte("trace bytes "), 1000)
	src := filepath.Join(t.TempDir(), "in.bin")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	want := hex.EncodeToString(sum[:])
	for _, put := range []func() (string, error){
		func() (string, error) { return s.Put(ctx, src) },
		func() (string, error) { return s.PutBytes(ctx, content) },
	} {
		d, err := put()
		if err != nil {
			t.Fatal(err)
		}
		if d != want {
			t.Fatalf("digest %s, want %s", d, want)
		}
	}
	// Another machine (its own cache) downloads and verifies it.
	other := newS3Store(t, "s3://art/runs-here")
	if n, err := other.fetch(ctx, want); err != nil || n != int64(len(content)) {
		t.Fatalf("fetch: %d bytes, %v", n, err)
	}
	if b, err := other.cache.Read(want); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("cached copy: %v", err)
	}
	// The object is damaged in the bucket: a third machine refuses it.
	key := s.objectKey(want)
	if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("art"), Key: &key,
		Body: bytes.NewReader(content[:100])}); err != nil {
		t.Fatal(err)
	}
	third := newS3Store(t, "s3://art/runs-here")
	if _, err := third.fetch(ctx, want); err == nil || !strings.Contains(err.Error(), "damaged or partial") {
		t.Fatalf("damaged object: got %v", err)
	}
	if _, err := third.cache.Verify(want); err == nil {
		t.Fatal("the damaged download was kept in the cache")
	}
	if _, err := third.fetch(ctx, strings.Repeat("0", 63)); err == nil {
		t.Fatal("a malformed digest was fetched")
	}
}

// TestS3MultipartUpload sends an object larger than a part in parts and
// reads it back verified.
func TestS3MultipartUpload(t *testing.T) {
	fakeS3(t, "art")
	ctx := context.Background()
	defer func(n int64) { partSize = n }(partSize)
	partSize = 5 << 20 // S3's least part size
	content := bytes.Repeat([]byte("0123456789abcdef"), (12<<20)/16+3)
	src := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newS3Store(t, "s3://art/p")
	d, err := s.Put(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	other := newS3Store(t, "s3://art/p")
	if n, err := other.fetch(ctx, d); err != nil || n != int64(len(content)) {
		t.Fatalf("fetched %d of %d bytes: %v", n, len(content), err)
	}
}

// TestS3WorkspacePublish checks what a workspace sends back: new and
// changed files, removals of what it checked out, and nothing of files it
// did not check out.
func TestS3WorkspacePublish(t *testing.T) {
	fakeS3(t, "art")
	ctx := context.Background()
	s := newS3Store(t, "s3://art/p")
	pipelineText := []byte("run_dir = \"runs/r1\"\n")
	text, err := s.PutBytes(ctx, pipelineText)
	if err != nil {
		t.Fatal(err)
	}
	job := Job{RunID: "r1", Pipeline: text}
	write := func(ws *Workspace, files map[string]string) {
		t.Helper()
		for rel, c := range files {
			p := filepath.Join(ws.RunDir("r1"), filepath.FromSlash(rel))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ws, err := s.Checkout(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(ws, map[string]string{"records/records.bin": "records", "chunks/chunk-0.gob": "c0", "chunks/chunk-1.gob": "c1"})
	if err := ws.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if _, w := ws.Traffic(); w != int64(len("records")+4) {
		t.Errorf("wrote %d bytes, want %d", w, len("records")+4)
	}
	ws.Close()
	if _, err := os.Stat(ws.Base); !os.IsNotExist(err) {
		t.Errorf("the workspace outlived Close: %v", err)
	}

	// A chunk-1 activity on another machine sees only its chunk.
	other := newS3Store(t, "s3://art/p")
	ws, err = other.Checkout(ctx, job, func(rels []string) []string {
		return slices.DeleteFunc(rels, func(r string) bool { return r == "chunks/chunk-0.gob" })
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ws.RunDir("r1"), "chunks", "chunk-0.gob")); !os.IsNotExist(err) {
		t.Errorf("chunk 0 was checked out: %v", err)
	}
	if r, _ := ws.Traffic(); r != int64(len(pipelineText)+len("records")+2) {
		t.Errorf("read %d bytes, want the pipeline, records and chunk 1's", r)
	}
	write(ws, map[string]string{"chunks/chunk-1.gob": "c1 trained", "train/chunk-1/step-4.ckpt": "ck"})
	os.Remove(filepath.Join(ws.RunDir("r1"), "records", "records.bin"))
	if err := ws.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	ws.Close()

	ptrs, err := s.pointers(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rel, d := range ptrs {
		if _, err := s.fetch(ctx, d); err != nil {
			t.Fatal(err)
		}
		b, err := s.cache.Read(d)
		if err != nil {
			t.Fatal(err)
		}
		got[rel] = string(b)
	}
	want := map[string]string{"chunks/chunk-0.gob": "c0", "chunks/chunk-1.gob": "c1 trained", "train/chunk-1/step-4.ckpt": "ck"}
	if len(got) != len(want) {
		t.Fatalf("run files %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("run files %v, want %v", got, want)
		}
	}
	dst := t.TempDir()
	if err := s.Export(ctx, "r1", []string{"runs/r1/train"}, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "train", "chunk-1", "step-4.ckpt")); err != nil || string(b) != "ck" {
		t.Fatalf("exported %q, %v", b, err)
	}
	if err := s.Export(ctx, "r1", []string{"runs/r2/x"}, dst); err == nil {
		t.Fatal("exported a file of another run")
	}
}

// TestS3RunMatchesDirectoryRun runs the real activities twice in
// Temporal's test environment, once on a shared directory and once on an
// S3 bucket, and checks that both write the same bytes.
func TestS3RunMatchesDirectoryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model twice")
	}
	fakeS3(t, "art")
	ctx := context.Background()
	dir, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bucket := newS3Store(t, "s3://art/netshare")
	run := func(store Artifacts) (string, Result, string) {
		job := newTestJob(t, store, tiny)
		env := quietSuite().NewTestWorkflowEnvironment()
		var log bytes.Buffer
		Register(env, &Activities{Store: store, CacheDir: testCache, Log: &log})
		env.SetTestTimeout(3 * time.Minute)
		env.ExecuteWorkflow(WorkflowName, job)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatalf("%s: %v\n%s", store, err, log.String())
		}
		var res Result
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log.String(), "read ") {
			t.Errorf("%s: no activity logged its traffic:\n%s", store, log.String())
		}
		out := t.TempDir()
		if err := store.Export(ctx, job.RunID, []string{RunPath(job.RunID) + "/generated/records.bin", res.Output, res.Metrics}, out); err != nil {
			t.Fatal(err)
		}
		return out, res, log.String()
	}
	a, ra, _ := run(dir)
	b, rb, logB := run(bucket)
	t.Run("chunk activities read only their chunk", func(t *testing.T) { chunkLocal(t, logB, len(rb.Chunks)) })
	t.Run("generate activities read only their chunk", func(t *testing.T) { generateLocal(t, logB, len(rb.Chunks)) })
	if ra.Output != rb.Output {
		t.Fatalf("outputs at %s and %s", ra.Output, rb.Output)
	}
	n := 0
	err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		// metrics.json names the files it scored, which are in each
		// store's workspace; its scores are compared below.
		if rel != "metrics.json" && !bytes.Equal(x, y) {
			t.Errorf("%s differs between the directory run and the S3 run (%d vs %d bytes)", rel, len(x), len(y))
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Fatalf("compared %d files, want the generated records, the output and the metrics", n)
	}
	for k, v := range ra.Scores {
		if rb.Scores[k] != v {
			t.Errorf("score %s: %g on the directory, %g on S3", k, v, rb.Scores[k])
		}
	}
}

// chunkLocal checks, from the activities' log lines, that every chunk
// activity checked out only its own chunk's tensors and checkpoints, the
// chunk plan and the training key, and for a fine-tuned chunk one
// checkpoint of chunk 0 (the workspace holds nothing else, so training
// that succeeded read nothing else).
func chunkLocal(t *testing.T, log string, chunks int) {
	t.Helper()
	seen := 0
	for _, line := range strings.Split(log, "\n") {
		i := strings.Index(line, "netshare.TrainChunk chunk ")
		if i < 0 || !strings.Contains(line, "checked out") {
			continue
		}
		var pos int
		if _, err := fmt.Sscanf(line[i:], "netshare.TrainChunk chunk %d:", &pos); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		seen++
		t.Log(line[i:])
		files := strings.Fields(line[strings.LastIndex(line, "bytes: ")+len("bytes: "):])
		tensors, first := 0, 0
		for _, f := range files {
			switch {
			case f == "chunks/plan.json", f == "train/KEY", strings.HasPrefix(f, fmt.Sprintf("train/chunk-%d/", pos)):
			case strings.HasPrefix(f, "chunks/chunk-") && strings.HasSuffix(f, ".gob"):
				tensors++
			case pos > 0 && strings.HasPrefix(f, "train/chunk-0/step-"):
				first++
			default:
				t.Errorf("chunk %d checked out %s", pos, f)
			}
		}
		if tensors != 1 || (pos > 0) != (first == 1) {
			t.Errorf("chunk %d checked out %d tensor files and %d checkpoints of chunk 0: %v", pos, tensors, first, files)
		}
	}
	if seen < chunks {
		t.Fatalf("%d chunk activities logged their files, want %d:\n%s", seen, chunks, log)
	}
}

// generateLocal checks, from the activities' log lines, that every
// generate activity checked out only its own chunk's attributes, real
// records and checkpoints, plus the plan, the training key and the
// encoders' state (the workspace holds nothing else, so generating read
// nothing else), and that it generated.
func generateLocal(t *testing.T, log string, chunks int) {
	t.Helper()
	seen := 0
	for _, line := range strings.Split(log, "\n") {
		i := strings.Index(line, "netshare.GenerateChunk chunk ")
		if i < 0 || !strings.Contains(line, "checked out") {
			continue
		}
		var k int
		if _, err := fmt.Sscanf(line[i:], "netshare.GenerateChunk chunk %d:", &k); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		seen++
		t.Log(line[i:])
		files := strings.Fields(line[strings.LastIndex(line, "bytes: ")+len("bytes: "):])
		var own, ckpts int
		for _, f := range files {
			switch {
			case f == "chunks/plan.json", f == "train/KEY", f == "encoders.json":
			case f == run.AttributesFile(k), f == run.ChunkRecordsFile(k):
				own++
			case strings.HasPrefix(f, "train/chunk-") && strings.HasSuffix(f, ".ckpt"):
				ckpts++
			default:
				t.Errorf("generating chunk %d checked out %s", k, f)
			}
		}
		if own != 2 || ckpts == 0 {
			t.Errorf("generating chunk %d checked out %d of its attributes and records and %d checkpoints: %v", k, own, ckpts, files)
		}
		if strings.Contains(line, ", wrote 0;") {
			t.Errorf("generating chunk %d wrote nothing: %s", k, line)
		}
	}
	if seen < chunks {
		t.Fatalf("%d generate activities logged their files, want %d:\n%s", seen, chunks, log)
	}
}
