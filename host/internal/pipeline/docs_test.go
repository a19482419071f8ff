package pipeline

import (
	"os"
	"strings"
	"testing"
)

// TestEveryKeyDocumented keeps docs/pipeline.md complete: each key the
// loader accepts appears there.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/pipeline.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/pipeline.md does not document %s", k)
		}
	}
}
