package privacy

import (
	"fmt"
	"math"
)

// Conversion names a rule that turns an RDP curve into an (ε, δ) guarantee.
// Every rule is a valid bound; they differ in tightness.
type Conversion uint8

const (
	// Tight is the conversion current libraries use (Balle et al. 2020,
	// Theorem 21; Canonne, Kamath, Steinke 2020, Proposition 12):
	//
	//	ε = rdp(α) + log((α−1)/α) − (log δ + log α)/(α−1),
	//
	// with ε = 0 when even rdp(α) ≤ −log(1−δ²) (then the total-variation
	// distance, bounded through the KL divergence, is already at most δ).
	// It is the default.
	Tight Conversion = iota
	// Classic is Mironov 2017, Proposition 3: ε = rdp(α) + log(1/δ)/(α−1).
	// TensorFlow Privacy used it until 2020; published numbers from that
	// era are reproduced only with it.
	Classic
)

func (c Conversion) String() string {
	switch c {
	case Tight:
		return "tight"
	case Classic:
		return "classic"
	}
	return fmt.Sprintf("conversion(%d)", uint8(c))
}

// ParseConversion maps "tight" or "classic" to its Conversion.
func ParseConversion(s string) (Conversion, error) {
	switch s {
	case "tight":
		return Tight, nil
	case "classic":
		return Classic, nil
	}
	return 0, fmt.Errorf("privacy: unknown conversion %q (want tight or classic)", s)
}

// Epsilon returns the smallest ε, over orders, such that a mechanism with
// RDP curve rdp (rdp[i] at orders[i]) is (ε, δ)-DP under c, and the order
// that attains it. Among orders giving the same ε the first wins. ε is
// +Inf when every order's RDP is infinite.
func (c Conversion) Epsilon(orders, rdp []float64, delta float64) (eps, order float64, err error) {
	if err := checkCurve(orders, rdp); err != nil {
		return 0, 0, err
	}
	if !(delta > 0 && delta < 1) {
		return 0, 0, fmt.Errorf("privacy: δ = %v: must be in (0, 1)", delta)
	}
	eps, order = math.Inf(1), orders[0]
	for i, a := range orders {
		var e float64
		switch c {
		case Tight:
			e = tightEpsilon(a, rdp[i], delta)
		case Classic:
			e = rdp[i] - math.Log(delta)/(a-1)
		default:
			return 0, 0, fmt.Errorf("privacy: %v: unknown conversion", c)
		}
		if e < eps {
			eps, order = e, a
		}
	}
	return math.Max(0, eps), order, nil
}

func tightEpsilon(a, r, delta float64) float64 {
	if delta*delta+math.Expm1(-r) >= 0 {
		return 0
	}
	return r + math.Log1p(-1/a) - (math.Log(delta)+math.Log(a))/(a-1)
}

// Delta returns the smallest δ, over orders, such that a mechanism with RDP
// curve rdp is (eps, δ)-DP under c, and the order that attains it. It
// inverts Epsilon: for the same rule, Epsilon at the returned δ gives back
// eps (to rounding). δ is capped at 1.
func (c Conversion) Delta(orders, rdp []float64, eps float64) (delta, order float64, err error) {
	if err := checkCurve(orders, rdp); err != nil {
		return 0, 0, err
	}
	if math.IsNaN(eps) || eps < 0 {
		return 0, 0, fmt.Errorf("privacy: ε = %v: must be non-negative", eps)
	}
	logDelta, order := math.Inf(1), orders[0]
	for i, a := range orders {
		r := rdp[i]
		var ld float64
		switch c {
		case Tight:
			// TV ≤ sqrt(1 − e^{−KL}) and KL ≤ rdp(α) for every α > 1.
			ld = 0.5 * math.Log(-math.Expm1(-r))
			ld = math.Min(ld, (a-1)*(r-eps+math.Log1p(-1/a))-math.Log(a))
		case Classic:
			ld = (a - 1) * (r - eps)
		default:
			return 0, 0, fmt.Errorf("privacy: %v: unknown conversion", c)
		}
		if ld < logDelta {
			logDelta, order = ld, a
		}
	}
	return math.Min(1, math.Exp(logDelta)), order, nil
}

// Epsilon converts with the Tight rule; see Conversion.Epsilon.
func Epsilon(orders, rdp []float64, delta float64) (eps, order float64, err error) {
	return Tight.Epsilon(orders, rdp, delta)
}

// EpsilonClassic converts with the Classic rule; see Conversion.Epsilon.
func EpsilonClassic(orders, rdp []float64, delta float64) (eps, order float64, err error) {
	return Classic.Epsilon(orders, rdp, delta)
}

// Delta converts with the Tight rule; see Conversion.Delta.
func Delta(orders, rdp []float64, eps float64) (delta, order float64, err error) {
	return Tight.Delta(orders, rdp, eps)
}

// DeltaClassic converts with the Classic rule; see Conversion.Delta.
func DeltaClassic(orders, rdp []float64, eps float64) (delta, order float64, err error) {
	return Classic.Delta(orders, rdp, eps)
}

func checkCurve(orders, rdp []float64) error {
	if err := checkOrders(orders); err != nil {
		return err
	}
	if len(rdp) != len(orders) {
		return fmt.Errorf("privacy: %d RDP values for %d orders", len(rdp), len(orders))
	}
	for i, r := range rdp {
		if math.IsNaN(r) || r < 0 {
			return fmt.Errorf("privacy: RDP %v at order %v: must be non-negative", r, orders[i])
		}
	}
	return nil
}
