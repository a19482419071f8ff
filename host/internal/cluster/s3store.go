package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Store keeps the artifact store in an S3-compatible bucket (AWS S3,
// MinIO, Ceph, GCS's XML API) under a prefix:
//
//	<prefix>/cas/sha256/<hex>             every object, named by its SHA-256
//	<prefix>/runs/<run id>/files/<path>   one small object per file of the
//	                                      run directory, holding the digest
//	                                      of its content
//
// So the store stays content-addressed: a run's files are pointers to
// objects, and every object is verified against its name when a worker
// downloads it. Workers cannot run a pipeline on a bucket, so each
// activity works in a local workspace (Checkout) and publishes what it
// changed back (Workspace.Publish). Credentials, region and endpoint come
// from the AWS SDK's standard chain (environment, shared config and
// credentials files, SSO, web identity, instance metadata), never from the
// pipeline.
type S3Store struct {
	Bucket string
	Prefix string // "" or ending in "/"
	url    string
	client *s3.Client
	// cache is the local copy of the objects this machine has used,
	// verified on the way in; workspaces are made under its work/.
	cache *Store

	mu     sync.Mutex
	remote map[string]bool // digests known to be in the bucket
}

// partSize is the size of a multipart upload's parts: objects above it
// (large traces, record tables) go up in parts, since one PUT stops at
// 5 GiB. A variable so a test can send a small object in parts.
var partSize int64 = 64 << 20

// NewS3Store opens s3://bucket/prefix. scratch is the local directory for
// downloaded objects and workspaces ("" for the user's cache directory).
func NewS3Store(ctx context.Context, spec, scratch string) (*S3Store, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("artifact store %q: want s3://bucket/prefix", spec)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	if scratch == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("artifact store %s: no local directory for its copies: %w", spec, err)
		}
		scratch = filepath.Join(d, "netshare", "s3", u.Host, filepath.FromSlash(prefix))
	}
	cache, err := NewStore(scratch)
	if err != nil {
		return nil, err
	}
	// The SDK's default chain; the bucket's own checksums are only asked
	// for when an operation requires them, since not every S3-compatible
	// service accepts the trailing checksums AWS now defaults to, and the
	// store verifies SHA-256 digests of its own.
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	if err != nil {
		return nil, fmt.Errorf("artifact store %s: AWS configuration: %w", spec, err)
	}
	if cfg.Region == "" {
		// S3-compatible services ignore it, but requests must be signed
		// for some region.
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		// A custom endpoint (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL: MinIO,
		// Ceph, GCS) is addressed by path: such services rarely have DNS
		// for virtual-hosted buckets.
		o.UsePathStyle = o.BaseEndpoint != nil
	})
	return &S3Store{Bucket: u.Host, Prefix: prefix, url: spec, client: client, cache: cache, remote: map[string]bool{}}, nil
}

func (s *S3Store) String() string { return s.url }

func (s *S3Store) objectKey(digest string) string { return s.Prefix + ObjectPath(digest) }

func (s *S3Store) filesKey(runID string) string { return s.Prefix + RunPath(runID) + "/files/" }

func (s *S3Store) errorf(format string, args ...any) error {
	return fmt.Errorf("artifact store %s: %s", s.url, fmt.Sprintf(format, args...))
}

// Put uploads the file at path as an object, unless the bucket has it.
func (s *S3Store) Put(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", s.errorf("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", s.errorf("%v", err)
	}
	digest, err := hashReader(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		return "", s.errorf("storing %s: %v", path, err)
	}
	if _, err := s.upload(ctx, digest, f, st.Size()); err != nil {
		return "", s.errorf("storing %s: %v", path, err)
	}
	return digest, nil
}

// PutBytes uploads b as an object, unless the bucket has it.
func (s *S3Store) PutBytes(ctx context.Context, b []byte) (string, error) {
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	if _, err := s.upload(ctx, digest, bytes.NewReader(b), int64(len(b))); err != nil {
		return "", s.errorf("%v", err)
	}
	return digest, nil
}

// upload sends the first size bytes of r as the object digest unless the
// bucket already has it, and returns the bytes sent.
func (s *S3Store) upload(ctx context.Context, digest string, r io.ReaderAt, size int64) (int64, error) {
	s.mu.Lock()
	known := s.remote[digest]
	s.mu.Unlock()
	if known {
		return 0, nil
	}
	key := s.objectKey(digest)
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &key})
	switch {
	case err == nil:
		// Present; a damaged one is caught when it is read.
	case isNotFound(err):
		if err := s.putObject(ctx, key, r, size); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("object %s: %w", digest, err)
	}
	s.mu.Lock()
	s.remote[digest] = true
	s.mu.Unlock()
	if err == nil {
		return 0, nil
	}
	return size, nil
}

// putObject writes an object in one PUT, or in parts above partSize. A
// multipart upload becomes visible only when completed, so a reader never
// sees part of an object either way.
func (s *S3Store) putObject(ctx context.Context, key string, r io.ReaderAt, size int64) error {
	if size <= partSize {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &key,
			Body: io.NewSectionReader(r, 0, size), ContentLength: aws.Int64(size)})
		if err != nil {
			return fmt.Errorf("uploading %s: %w", key, err)
		}
		return nil
	}
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("uploading %s: %w", key, err)
	}
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < size; off, n = off+partSize, n+1 {
		l := min(partSize, size-off)
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.Bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: io.NewSectionReader(r, off, l), ContentLength: aws.Int64(l)})
		if err != nil {
			s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &s.Bucket, Key: &key, UploadId: up.UploadId})
			return fmt.Errorf("uploading %s, part %d: %w", key, n, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.Bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return fmt.Errorf("uploading %s: %w", key, err)
	}
	return nil
}

// fetch makes sure the local cache holds the verified object and returns
// the bytes downloaded (0 when the cache had it).
func (s *S3Store) fetch(ctx context.Context, digest string) (int64, error) {
	if len(digest) != 64 || strings.Trim(digest, "0123456789abcdef") != "" {
		return 0, s.errorf("%q is not a SHA-256 digest", digest)
	}
	if _, err := s.cache.Verify(digest); err == nil {
		return 0, nil
	}
	key := s.objectKey(digest)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return 0, s.errorf("object %s: %v", digest, err)
	}
	defer out.Body.Close()
	_, n, err := s.cache.ingest(out.Body, digest)
	if err != nil {
		return 0, s.errorf("s3://%s/%s: %v", s.Bucket, key, err)
	}
	s.mu.Lock()
	s.remote[digest] = true
	s.mu.Unlock()
	return n, nil
}

// pointers lists a run's files and the digests they point to.
func (s *S3Store) pointers(ctx context.Context, runID string) (map[string]string, error) {
	pre := s.filesKey(runID)
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: &pre})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.errorf("listing run %s: %v", runID, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	out := make(map[string]string, len(keys))
	var mu sync.Mutex
	err := forEach(ctx, keys, func(ctx context.Context, key string) error {
		o, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
		if err != nil {
			return s.errorf("%s: %v", key, err)
		}
		defer o.Body.Close()
		b, err := io.ReadAll(io.LimitReader(o.Body, 128))
		if err != nil {
			return s.errorf("%s: %v", key, err)
		}
		d := strings.TrimSpace(string(b))
		if len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "" {
			return s.errorf("s3://%s/%s does not hold a SHA-256 digest", s.Bucket, key)
		}
		mu.Lock()
		out[strings.TrimPrefix(key, pre)] = d
		mu.Unlock()
		return nil
	})
	return out, err
}

// Checkout lays the run out in a fresh local workspace: the pipeline and
// inputs are in the local cache (reached through base/cas), the run's
// files wanted are copied into base/runs/<id>. A copy, not a link, since
// the run appends to some files (a chunk's losses) and must not change
// the cached object.
func (s *S3Store) Checkout(ctx context.Context, job Job, pick Picker) (*Workspace, error) {
	work := filepath.Join(s.cache.Root, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, s.errorf("%v", err)
	}
	base, err := os.MkdirTemp(work, job.RunID+"-*")
	if err != nil {
		return nil, s.errorf("%v", err)
	}
	ws := &Workspace{Base: base}
	ws.close = func() error { return os.RemoveAll(base) }
	fail := func(err error) (*Workspace, error) {
		ws.Close()
		return nil, fmt.Errorf("run %s: %w", job.RunID, err)
	}
	if err := os.Symlink(filepath.Join(s.cache.Root, "cas"), filepath.Join(base, "cas")); err != nil {
		return fail(err)
	}
	objs := append([]string{job.Pipeline}, job.Artifacts...)
	if err := forEach(ctx, objs, func(ctx context.Context, d string) error {
		n, err := s.fetch(ctx, d)
		ws.read.Add(n)
		return err
	}); err != nil {
		return fail(err)
	}
	if ws.Pipeline, err = s.cache.Read(job.Pipeline); err != nil {
		return fail(err)
	}
	ptrs, err := s.pointers(ctx, job.RunID)
	if err != nil {
		return fail(err)
	}
	dir := ws.RunDir(job.RunID)
	known := map[string]fileState{}
	rels := make([]string, 0, len(ptrs))
	for rel := range ptrs {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	if pick != nil {
		rels = pick(rels)
	}
	for _, rel := range rels {
		if _, ok := ptrs[rel]; !ok {
			return fail(s.errorf("run %s has no file %s", job.RunID, rel))
		}
	}
	var mu sync.Mutex
	if err := forEach(ctx, rels, func(ctx context.Context, rel string) error {
		d := ptrs[rel]
		n, err := s.fetch(ctx, d)
		ws.read.Add(n)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if err := copyFile(s.cache.abs(d), dst); err != nil {
			return err
		}
		st, err := os.Stat(dst)
		if err != nil {
			return err
		}
		mu.Lock()
		known[rel] = fileState{digest: d, size: st.Size(), mtime: st.ModTime().UnixNano()}
		ws.size += st.Size()
		mu.Unlock()
		return nil
	}); err != nil {
		return fail(err)
	}
	ws.files = rels
	p := &publisher{s: s, runID: job.RunID, dir: dir, known: known, ws: ws}
	ws.publish = p.publish
	return ws, nil
}

// fileState is what a workspace last synced of one run file.
type fileState struct {
	digest string
	size   int64
	mtime  int64
}

// publisher writes a workspace's changed run files back: every file new
// or changed since the checkout (or the last publish) is uploaded as an
// object and its pointer replaced; a file the activity removed loses its
// pointer. Files of the run this workspace did not check out are left
// alone, so activities on other chunks do not undo each other.
type publisher struct {
	s     *S3Store
	runID string
	dir   string
	ws    *Workspace

	mu    sync.Mutex
	known map[string]fileState
}

func (p *publisher) publish(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	err := filepath.WalkDir(p.dir, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walked
			}
			return err
		}
		// Skip what is being written (atomicfile's temporaries).
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, err := filepath.Rel(p.dir, fp)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		return p.sync(ctx, rel, fp)
	})
	if err != nil {
		return p.s.errorf("publishing run %s: %v", p.runID, err)
	}
	for rel := range p.known {
		if seen[rel] {
			continue
		}
		key := p.s.filesKey(p.runID) + rel
		if _, err := p.s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &p.s.Bucket, Key: &key}); err != nil {
			return p.s.errorf("publishing run %s: removing %s: %v", p.runID, rel, err)
		}
		delete(p.known, rel)
	}
	return nil
}

// sync uploads one file if it changed. The file is hashed and sent from
// one open descriptor and only up to the size hashed, so a file replaced
// (renamed over) or appended to meanwhile is still sent as hashed.
func (p *publisher) sync(ctx context.Context, rel, fp string) error {
	f, err := os.Open(fp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	now := fileState{size: st.Size(), mtime: st.ModTime().UnixNano()}
	old, had := p.known[rel]
	if had && old.size == now.size && old.mtime == now.mtime {
		return nil
	}
	if now.digest, err = hashReader(io.NewSectionReader(f, 0, now.size)); err != nil {
		return fmt.Errorf("%s: %w", fp, err)
	}
	if had && old.digest == now.digest {
		p.known[rel] = now
		return nil
	}
	n, err := p.s.upload(ctx, now.digest, f, now.size)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	key := p.s.filesKey(p.runID) + rel
	if _, err := p.s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &p.s.Bucket, Key: &key,
		Body: strings.NewReader(now.digest), ContentLength: aws.Int64(int64(len(now.digest)))}); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	p.ws.written.Add(n)
	p.known[rel] = now
	return nil
}

// Export downloads run files (or every file under a run directory path)
// to dst.
func (s *S3Store) Export(ctx context.Context, runID string, rels []string, dst string) error {
	ptrs, err := s.pointers(ctx, runID)
	if err != nil {
		return err
	}
	for _, rel := range rels {
		sub, err := runRel(runID, rel)
		if err != nil {
			return s.errorf("exporting: %v", err)
		}
		found := false
		for f, d := range ptrs {
			if f != sub && !strings.HasPrefix(f, sub+"/") && sub != "." {
				continue
			}
			found = true
			if _, err := s.fetch(ctx, d); err != nil {
				return err
			}
			if err := copyFile(s.cache.abs(d), filepath.Join(dst, filepath.FromSlash(path.Clean(f)))); err != nil {
				return s.errorf("exporting %s: %v", f, err)
			}
		}
		if !found {
			return s.errorf("run %s has no %s", runID, sub)
		}
	}
	return nil
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nk *types.NoSuchKey
	return errors.As(err, &nf) || errors.As(err, &nk)
}

func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// forEach runs fn on every item, a few at a time (requests to a bucket
// are mostly waiting), and returns the first error.
func forEach(ctx context.Context, items []string, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, it); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
