package privacy

import (
	"fmt"
	"math"
	"slices"
)

// Mechanism is the RDP curve of one use of a mechanism on a fixed grid of
// orders. Mechanisms compose by adding curves; see Accountant.
type Mechanism struct {
	orders []float64
	rdp    []float64
}

// RDP returns a copy of the curve, one value per order of Orders.
func (m Mechanism) RDP() []float64 { return slices.Clone(m.rdp) }

// Orders returns a copy of the order grid the curve is on.
func (m Mechanism) Orders() []float64 { return slices.Clone(m.orders) }

// SampledGaussian returns one step of the sampled Gaussian mechanism:
// Poisson sampling at rate q, sum of per-example values clipped to L2 norm
// C, Gaussian noise of standard deviation sigma·C. A nil orders means
// DefaultOrders.
func SampledGaussian(q, sigma float64, orders []float64) (Mechanism, error) {
	if orders == nil {
		orders = DefaultOrders()
	}
	rdp, err := SampledGaussianRDPs(q, sigma, 1, orders)
	if err != nil {
		return Mechanism{}, err
	}
	return Mechanism{orders: slices.Clone(orders), rdp: rdp}, nil
}

// Gaussian returns one use of the Gaussian mechanism with noise multiplier
// sigma on the whole data set (no sampling), such as the noisy release of a
// count whose sensitivity is 1 with noise of standard deviation sigma.
func Gaussian(sigma float64, orders []float64) (Mechanism, error) {
	return SampledGaussian(1, sigma, orders)
}

// BatchSharing says how the critics that train with DP-SGD draw their
// batches within one training step. It matters only with more than one
// critic (DoppelGANger's critic and its attribute critic).
type BatchSharing uint8

const (
	// SharedBatch: every critic computes its clipped, noised gradient on the
	// same Poisson batch, as DoppelGANger does. With k critics, each
	// clipping per-example gradients to C and adding noise σC, the step
	// releases k sums whose joint L2 sensitivity is √k·C, so it is exactly
	// one sampled Gaussian mechanism with noise multiplier σ/√k. This holds
	// even if a critic's gradient depends on another critic's noisy update
	// in the same step (Gaussian differential privacy composes adaptively).
	// It is the default.
	SharedBatch BatchSharing = iota
	// SeparateBatches: each critic draws its own independent Poisson batch,
	// so a step is k independent sampled Gaussian mechanisms with noise
	// multiplier σ, composed.
	SeparateBatches
	// NetShareHalved reproduces NetShare's accounting: one sampled Gaussian
	// mechanism with noise multiplier σ/k ("σ/2 because each batch is used
	// twice"). For k ≥ 2 it is a valid but loose upper bound on SharedBatch
	// (σ/k < σ/√k and RDP falls as the noise grows); use it only to compare
	// with NetShare's published ε.
	NetShareHalved
)

func (s BatchSharing) String() string {
	switch s {
	case SharedBatch:
		return "shared"
	case SeparateBatches:
		return "separate"
	case NetShareHalved:
		return "netshare"
	}
	return fmt.Sprintf("sharing(%d)", uint8(s))
}

// ParseBatchSharing maps "shared", "separate" or "netshare" to its
// BatchSharing.
func ParseBatchSharing(s string) (BatchSharing, error) {
	for _, b := range []BatchSharing{SharedBatch, SeparateBatches, NetShareHalved} {
		if b.String() == s {
			return b, nil
		}
	}
	return 0, fmt.Errorf("privacy: unknown batch sharing %q (want shared, separate or netshare)", s)
}

// CriticStep returns one DP-SGD training step of all critics: critics
// critics, each clipping per-example gradients to C and adding noise of
// standard deviation sigma·C to the sum, on batches drawn by Poisson
// sampling at rate q and shared among the critics as sharing says.
func CriticStep(q, sigma float64, critics int, sharing BatchSharing, orders []float64) (Mechanism, error) {
	if critics < 1 {
		return Mechanism{}, fmt.Errorf("privacy: %d critics: need at least 1", critics)
	}
	k := float64(critics)
	switch sharing {
	case SharedBatch:
		return SampledGaussian(q, sigma/math.Sqrt(k), orders)
	case NetShareHalved:
		return SampledGaussian(q, sigma/k, orders)
	case SeparateBatches:
		m, err := SampledGaussian(q, sigma, orders)
		if err != nil {
			return Mechanism{}, err
		}
		for i := range m.rdp {
			m.rdp[i] = scale(m.rdp[i], critics)
		}
		return m, nil
	}
	return Mechanism{}, fmt.Errorf("privacy: %v: unknown batch sharing", sharing)
}

// AccountantConfig configures an Accountant.
type AccountantConfig struct {
	// Orders is the RDP order grid; nil means DefaultOrders.
	Orders []float64
	// Delta is the δ at which ε is reported; it must be in (0, 1).
	Delta float64
	// Conversion turns RDP into ε; the zero value is Tight.
	Conversion Conversion
}

// Accountant tracks the RDP spent so far by a sequence of mechanisms. A
// run plans its training with it before the first step, choosing σ or the
// number of steps so that the final ε stays within the target
// (host/internal/run). An Accountant is not safe for concurrent use.
type Accountant struct {
	orders []float64
	rdp    []float64
	cfg    AccountantConfig
}

// NewAccountant returns an Accountant that has spent nothing.
func NewAccountant(cfg AccountantConfig) (*Accountant, error) {
	if cfg.Orders == nil {
		cfg.Orders = DefaultOrders()
	}
	if err := checkOrders(cfg.Orders); err != nil {
		return nil, err
	}
	if !(cfg.Delta > 0 && cfg.Delta < 1) {
		return nil, fmt.Errorf("privacy: δ = %v: must be in (0, 1)", cfg.Delta)
	}
	if cfg.Conversion != Tight && cfg.Conversion != Classic {
		return nil, fmt.Errorf("privacy: %v: unknown conversion", cfg.Conversion)
	}
	cfg.Orders = slices.Clone(cfg.Orders)
	return &Accountant{orders: cfg.Orders, rdp: make([]float64, len(cfg.Orders)), cfg: cfg}, nil
}

// Orders returns a copy of the accountant's order grid.
func (a *Accountant) Orders() []float64 { return slices.Clone(a.orders) }

// RDP returns a copy of the RDP spent so far, one value per order.
func (a *Accountant) RDP() []float64 { return slices.Clone(a.rdp) }

// Compose charges times uses of m.
func (a *Accountant) Compose(m Mechanism, times int) error {
	next, err := a.after(m, times)
	if err != nil {
		return err
	}
	a.rdp = next
	return nil
}

// Epsilon returns the ε spent so far at the configured δ and the order that
// attains it.
func (a *Accountant) Epsilon() (eps, order float64, err error) {
	return a.cfg.Conversion.Epsilon(a.orders, a.rdp, a.cfg.Delta)
}

func (a *Accountant) after(m Mechanism, times int) ([]float64, error) {
	if times < 0 {
		return nil, fmt.Errorf("privacy: compose %d times: must be non-negative", times)
	}
	if !slices.Equal(m.orders, a.orders) {
		return nil, fmt.Errorf("privacy: mechanism on %d orders does not match the accountant's %d-order grid", len(m.orders), len(a.orders))
	}
	next := slices.Clone(a.rdp)
	for i, r := range m.rdp {
		next[i] += scale(r, times)
	}
	return next, nil
}
