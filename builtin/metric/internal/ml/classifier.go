package ml

import (
	"fmt"
	"strings"
)

// Classifier is a supervised learner: Fit on a dataset, then Predict a
// class for a feature row. Predict may reuse internal scratch, so one
// classifier serves one caller at a time.
type Classifier interface {
	Fit(ds *Dataset) error
	Predict(x []float64) int
}

// Learners names the classifiers NewClassifier builds, in report order.
var Learners = []string{"tree", "forest", "logreg", "boost", "mlp"}

// NewClassifier returns the named learner with the settings the classify
// metric documents (docs/downstream.md). They are sized for Wasm, where
// Go's tight float loops run some 20–30× slower than natively: every
// learner passes over the data a few dozen times at most, so 20k rows
// train in seconds.
func NewClassifier(name string, seed uint64) (Classifier, error) {
	switch name {
	case "tree":
		return &Tree{MaxDepth: 16, MinLeaf: 1, Seed: seed}, nil
	case "forest":
		return &Forest{Trees: 20, MaxDepth: 12, MinLeaf: 1, Sample: 0.5, Seed: seed}, nil
	case "logreg":
		return &LogReg{Epochs: 6, Batch: 128, Rate: 0.03, L2: 1e-4, Seed: seed}, nil
	case "boost":
		return &Boost{Rounds: 15, MaxDepth: 3, MinLeaf: 5, Rate: 0.4, Lambda: 1, Subsample: 0.5, Seed: seed}, nil
	case "mlp":
		return &MLP{Hidden: 16, Epochs: 4, Batch: 64, Rate: 0.015, Seed: seed}, nil
	}
	return nil, fmt.Errorf("unknown learner %q (known: %s)", name, strings.Join(Learners, ", "))
}
