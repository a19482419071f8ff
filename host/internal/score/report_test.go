package score

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/netshare/netshare/host/internal/report"
	"github.com/netshare/netshare/internal/shareddata"
)

// TestReportFromScores renders the report of a real scoring run with a
// noise floor. Set NETSHARE_REPORT_OUT=path.html to keep the page for a
// look in a browser.
func TestReportFromScores(t *testing.T) {
	all := readUGR(t, shareddata.Path(t, "flows/ugr16_netshare-small_1k.csv"))
	real, syn := rows(all, 0, 500), rows(all, 500, all.Len())
	metrics, err := DefaultMetrics(real)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := Run(ctx, host(t), real, syn, metrics, Options{})
	if err != nil {
		t.Fatal(err)
	}
	halves, err := HalvesFloor(ctx, host(t), real, metrics, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	seed := int64(1)
	d := report.Data{
		Title: "UGR16 sample: second half vs first half", Real: "ugr16 rows 1–500", Synthetic: "ugr16 rows 501–1000", Kind: KindOf(real),
		Scores: res.Report(halves.Floor, &halves), Seed: &seed, Config: "seed = 1\n[flows]\nchunks = 10\n",
		Timings: []report.Stage{{Stage: "read", Seconds: 0.2}, {Stage: "train", Seconds: 3600}, {Stage: "score", Seconds: 2}},
		Privacy: &report.Budget{Epsilon: 2.5, Delta: 1e-5, NoiseMultiplier: 1.1, ClipNorm: 1},
		Choices: []report.Choice{{Chunk: 0, Candidates: []string{"S=5 step 500", "S=5 step 1000"}, RankSums: []float64{14, 9}, Best: 1}},
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, s := range res.Scores {
		if !strings.Contains(page, `id="m-`+s.Name+`"`) {
			t.Errorf("report has no section for %s", s.Name)
		}
	}
	if n := strings.Count(page, "<svg"); n != len(res.Scores) {
		t.Errorf("report has %d plots for %d scores", n, len(res.Scores))
	}
	if out := os.Getenv("NETSHARE_REPORT_OUT"); out != "" {
		if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
