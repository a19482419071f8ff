package trace

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk/sdktest"
)

var (
	hostOnce sync.Once
	host     *plugin.Host
	hostErr  error
)

// testHost loads the builtin module once for the package; compiled code is
// cached between runs in the temp directory.
func testHost(t testing.TB) *plugin.Host {
	t.Helper()
	hostOnce.Do(func() {
		host, hostErr = plugin.NewHost(context.Background(), plugin.Options{CacheDir: filepath.Join(os.TempDir(), "netshare-test-wazero-cache")})
	})
	if hostErr != nil {
		t.Fatal(hostErr)
	}
	return host
}

func TestMain(m *testing.M) {
	code := m.Run()
	if host != nil {
		host.Close(context.Background())
	}
	os.Exit(code)
}

// data returns the path of a shared test file, skipping when absent.
func data(t testing.TB, parts ...string) string {
	t.Helper()
	return shareddata.Path(t, parts...)
}

var nfdump = map[string]any{
	"header": false, "time_format": "2006-01-02 15:04:05", "time_is": "end",
	"table": map[string]any{"ts": "0", "td": "1", "srcip": "2", "dstip": "3", "srcport": "4", "dstport": "5",
		"proto": "6", "pkt": "10", "byt": "11", "label": "12"},
}

func TestReadFiles(t *testing.T) {
	tests := []struct {
		name    string
		path    []string
		opt     Options
		format  string
		records int
	}{
		{"netflow csv detected", []string{"flows", "ugr16_netshare-small_1k.csv"}, Options{}, "netflow-csv", 1000},
		{"nfdump by mapping", []string{"flows", "ugr16_july-week5_first5k_nfdump-noheader.csv"}, Options{Format: "netflow-csv", Params: nfdump}, "netflow-csv", 5000},
		{"zeek detected", []string{"flows", "ctu50_CTU-Normal-40_day1_zeek-conn.log.labeled"}, Options{}, "zeek-conn", 5663},
		{"small pieces", []string{"flows", "ctu50_CTU-Normal-42_day2_zeek-conn.log.labeled"}, Options{PieceSize: 1000}, "zeek-conn", 5347},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := data(t, tt.path...)
			tr, err := Read(ctx, testHost(t), []string{p}, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Records.Len() != tt.records || len(tr.Files) != 1 || tr.Files[0].Records != int64(tt.records) || tr.Files[0].Format != tt.format || tr.Files[0].Path != p {
				t.Fatalf("%d records, files %+v; want %d records in %s", tr.Records.Len(), tr.Files, tt.records, tt.format)
			}
			if !slices.IsSorted(tr.Records.Column("ts").I64) {
				t.Error("records are not in time order")
			}
			if err := tr.Records.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestReadSameAsPieces(t *testing.T) {
	p := data(t, "flows", "ugr16_july-week5_first5k_nfdump-noheader.csv")
	ctx := context.Background()
	whole, err := Read(ctx, testHost(t), []string{p}, Options{Format: "netflow-csv", Params: nfdump})
	if err != nil {
		t.Fatal(err)
	}
	small, err := Read(ctx, testHost(t), []string{p}, Options{Format: "netflow-csv", Params: nfdump, PieceSize: 777})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sdktest.Rows(whole.Records), "\n") != strings.Join(sdktest.Rows(small.Records), "\n") {
		t.Error("777-byte pieces give other records than 1 MiB pieces")
	}
}

// TestReadEpochs cuts the NetShare sample into two interleaved epoch files
// (in a temp dir) and checks that reading both gives the original records
// in time order.
func TestReadEpochs(t *testing.T) {
	src := data(t, "flows", "ugr16_netshare-small_1k.csv")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	dir := t.TempDir()
	var a, b strings.Builder
	a.WriteString(lines[0] + "\n")
	b.WriteString(lines[0] + "\n")
	for i, l := range lines[1:] {
		if i%3 == 0 {
			b.WriteString(l + "\n")
		} else {
			a.WriteString(l + "\n")
		}
	}
	pa, pb := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	os.WriteFile(pa, []byte(a.String()), 0o644)
	os.WriteFile(pb, []byte(b.String()), 0o644)
	ctx := context.Background()
	whole, err := Read(ctx, testHost(t), []string{src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Read(ctx, testHost(t), []string{pa, pb}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(merged.Files) != 2 || merged.Files[0].Records+merged.Files[1].Records != 1000 {
		t.Fatalf("files %+v", merged.Files)
	}
	if !slices.IsSorted(merged.Records.Column("ts").I64) {
		t.Error("merged records are not in time order")
	}
	w, m := sdktest.Rows(whole.Records), sdktest.Rows(merged.Records)
	sort.Strings(w)
	sort.Strings(m)
	if strings.Join(w, "\n") != strings.Join(m, "\n") {
		t.Error("the epochs do not hold the original records")
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("hello, world\nthis is no trace\n"), 0o644)
	csv := data(t, "flows", "ugr16_netshare-small_1k.csv")
	zeek := data(t, "flows", "ctu50_CTU-Normal-40_day1_zeek-conn.log.labeled")
	tests := []struct {
		name  string
		paths []string
		opt   Options
		want  []string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.csv")}, Options{}, []string{"nope.csv"}},
		{"undetectable", []string{junk}, Options{}, []string{"junk.bin", "no format recognises"}},
		{"unknown format", []string{csv}, Options{Format: "netflow-cvs"}, []string{"ugr16_netshare-small_1k.csv", `did you mean "netflow-csv"`}},
		{"bad params", []string{csv}, Options{Format: "netflow-csv", Params: map[string]any{"time_is": "later"}}, []string{"ugr16_netshare-small_1k.csv", "time_is"}},
		{"mixed columns", []string{csv, zeek}, Options{}, []string{"ctu50_CTU-Normal-40", "earlier records had"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(context.Background(), testHost(t), tt.paths, tt.opt)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestWriteRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		src   []string
		read  Options
		out   string
		write WriteOptions
	}{
		{"csv to csv", []string{"flows", "ugr16_netshare-small_1k.csv"}, Options{}, "out.csv", WriteOptions{Format: "netflow-csv"}},
		{"nfdump to csv", []string{"flows", "ugr16_july-week5_first5k_nfdump-noheader.csv"}, Options{Format: "netflow-csv", Params: nfdump}, "out.csv", WriteOptions{Format: "netflow-csv", BatchRows: 999}},
		{"zeek to zeek", []string{"flows", "ctu50_CTU-Normal-43_day1_zeek-conn.log.labeled"}, Options{}, "out.log", WriteOptions{Format: "zeek-conn", Seed: 5}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHost(t)
			tr, err := Read(ctx, h, []string{data(t, tt.src...)}, tt.read)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), tt.out)
			if err := Write(ctx, h, out, tr.Records, tt.write); err != nil {
				t.Fatal(err)
			}
			back, err := Read(ctx, h, []string{out}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			a, b := sdktest.Rows(tr.Records), sdktest.Rows(back.Records)
			if len(a) != len(b) {
				t.Fatalf("%d records written, %d read back", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("record %d differs:\n%s\n%s", i, a[i], b[i])
				}
			}
		})
	}
}

func TestWriteFailureKeepsFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "keep.csv")
	os.WriteFile(out, []byte("old"), 0o644)
	bad := &abi.Batch{Columns: []abi.Column{{Name: "srcip", Type: abi.TypeIPv4, U32: []uint32{1}}}}
	err := Write(context.Background(), testHost(t), out, bad, WriteOptions{Format: "netflow-csv"})
	if err == nil || !strings.Contains(err.Error(), "keep.csv") {
		t.Fatalf("error %v, want one naming keep.csv", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Errorf("failed write changed the file to %q", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestFormatForPath(t *testing.T) {
	tests := []struct {
		path, format string
		ok           bool
	}{
		{"a.pcap", "pcap", true}, {"a.PCAPNG", "pcap", true}, {"x/y.csv", "netflow-csv", true},
		{"conn.log", "zeek-conn", true}, {"a.txt", "", false},
	}
	for _, tt := range tests {
		f, _, ok := FormatForPath(tt.path)
		if f != tt.format || ok != tt.ok {
			t.Errorf("FormatForPath(%q) = %q %v", tt.path, f, ok)
		}
	}
}

// TestDocsNfdumpExample reads the nfdump file with the TOML snippet that
// docs/formats.md gives, so the documented mapping stays correct.
func TestDocsNfdumpExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "formats.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "### Example: UGR'16's raw nfdump export")
	if !ok {
		t.Fatal("docs/formats.md lost its nfdump example")
	}
	_, rest, _ = strings.Cut(rest, "```toml\n")
	snippet, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("no TOML block in the nfdump example")
	}
	var cfg struct {
		Input struct {
			Paths  []string       `toml:"paths"`
			Format string         `toml:"format"`
			Params map[string]any `toml:"params"`
		} `toml:"input"`
	}
	if _, err := toml.Decode(snippet, &cfg); err != nil {
		t.Fatalf("the documented TOML does not parse: %v", err)
	}
	p := data(t, "flows", cfg.Input.Paths[0])
	tr, err := Read(context.Background(), testHost(t), []string{p}, Options{Format: cfg.Input.Format, Params: cfg.Input.Params})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Records.Len() != 5000 || len(tr.Files[0].Skipped) != 0 || tr.Records.Column("flg") == nil || tr.Records.Column("label") == nil {
		t.Errorf("%d records, stats %+v, columns %v", tr.Records.Len(), tr.Files[0], columnList(tr.Records))
	}
}

// BenchmarkRead measures reading through the Wasm plugins, detection and
// merging included.
func BenchmarkRead(b *testing.B) {
	for _, c := range []struct {
		name string
		path []string
		opt  Options
	}{
		{"netflow-csv", []string{"flows", "ugr16_july-week5_first5k_nfdump-noheader.csv"}, Options{Format: "netflow-csv", Params: nfdump}},
		{"zeek-conn", []string{"flows", "ctu50_CTU-Normal-43_day1_zeek-conn.log.labeled"}, Options{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := data(b, c.path...)
			st, err := os.Stat(p)
			if err != nil {
				b.Fatal(err)
			}
			h := testHost(b)
			b.SetBytes(st.Size())
			for b.Loop() {
				if _, err := Read(context.Background(), h, []string{p}, c.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
