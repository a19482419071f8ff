// Package session is the TCP session-shape metric: it follows each TCP
// conversation (the unordered endpoint pair) through the records, as
// Zeek, tcptrace and Wireshark do, and compares real and synthetic
// traces on what such tools see: how many conversations open with a
// handshake, how they end (Zeek's conn_state), and how their packets
// split between the two directions. Directed 5-tuple flows generated
// independently have none of this structure; the metric shows it.
package session

import (
	"fmt"
	"math"
	"slices"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/metric/internal/dist"
	"github.com/netshare/netshare/sdk"
)

// Columns is the default "columns" parameter: sender address and port,
// receiver address and port, protocol, TCP flags.
var Columns = []string{"srcip", "srcport", "dstip", "dstport", "proto", "tcp_flags"}

func init() {
	sdk.RegisterMetric(abi.Component{
		Name:    "session",
		Version: "1.0.0",
		Summary: "TCP conversations as tools see them: handshake share, Zeek conn_state distribution, packets per direction",
		Params: []abi.Param{
			{Name: "columns", Type: abi.ParamStrings, Default: Columns,
				Doc: "sender address, sender port, receiver address, receiver port, protocol and TCP flags columns, in this order"},
			{Name: "prefix", Type: abi.ParamString, Default: "tcp", Doc: "score names start with this"},
		},
		Defaults: map[string]any{abi.DefaultColumnParams: []string{"columns"}},
	}, New)
}

// States are Zeek's conn_state values (Zeek's base/protocols/conn
// documentation), in the order the series lists them.
var States = []string{"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"}

// conv is what one conversation showed, per side: 0 the originator, 1
// the responder.
type conv struct {
	origLow  bool // the originator is the lower endpoint of the key
	syn      [2]bool
	synack   [2]bool
	fin, rst [2]bool
	pkts     [2]int
}

// side tracks one trace's conversations.
type side struct {
	index map[[2]uint64]int32
	convs []conv
}

// Metric compares the session shape of the two traces.
type Metric struct {
	cols      []string
	prefix    string
	real, syn side
	nR, nS    int
}

// New opens a session metric.
func New(env sdk.Env) (sdk.Metric, error) {
	cols := env.Params.Strings("columns")
	if len(cols) != len(Columns) {
		return nil, fmt.Errorf("session: parameter columns: want %d names (%v), got %d", len(Columns), Columns, len(cols))
	}
	return &Metric{cols: cols, prefix: env.Params.String("prefix"),
		real: side{index: map[[2]uint64]int32{}}, syn: side{index: map[[2]uint64]int32{}}}, nil
}

func (m *Metric) AddReal(b *abi.Batch) error {
	m.nR++
	return m.add(&m.real, b, dist.Real, m.nR)
}

func (m *Metric) AddSynthetic(b *abi.Batch) error {
	m.nS++
	return m.add(&m.syn, b, dist.Synthetic, m.nS)
}

// add follows the batch's TCP records, in order, into their
// conversations.
func (m *Metric) add(s *side, b *abi.Batch, sd dist.Side, n int) error {
	var c [6]*abi.Column
	var v [6][]float64
	for i, name := range m.cols {
		col, err := dist.Need(b, name, sd, n)
		if err != nil {
			return fmt.Errorf("session: %w", err)
		}
		if col.Type == abi.TypeString {
			return fmt.Errorf("session: %s batch %d: column %q is a string column", sd, n, name)
		}
		c[i] = col
		if v[i], err = dist.AppendFloats(nil, col, sd, n); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	for r := range b.Len() {
		if math.Round(v[4][r]) != 6 {
			continue
		}
		src := uint64(v[0][r])<<16 | uint64(v[1][r])
		dst := uint64(v[2][r])<<16 | uint64(v[3][r])
		flags := uint8(v[5][r])
		key, fromLow := [2]uint64{src, dst}, true
		if dst < src {
			key, fromLow = [2]uint64{dst, src}, false
		}
		id, ok := s.index[key]
		if !ok {
			id = int32(len(s.convs))
			s.index[key] = id
			// The originator sent the first packet, unless that packet
			// is a SYN-ACK: then its receiver opened the connection
			// before the capture saw it (Zeek's rule).
			s.convs = append(s.convs, conv{origLow: fromLow != (flags&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN|abi.TCPACK)})
		}
		cv := &s.convs[id]
		who := 1
		if fromLow == cv.origLow {
			who = 0
		}
		cv.pkts[who]++
		switch {
		case flags&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN:
			cv.syn[who] = true
		case flags&(abi.TCPSYN|abi.TCPACK) == abi.TCPSYN|abi.TCPACK:
			cv.synack[who] = true
		}
		cv.fin[who] = cv.fin[who] || flags&abi.TCPFIN != 0
		cv.rst[who] = cv.rst[who] || flags&abi.TCPRST != 0
	}
	return nil
}

// State is a conversation's Zeek conn_state.
func (c *conv) State() string {
	const o, r = 0, 1
	attempt := c.syn[o]                // the originator asked
	answered := c.synack[r]            // the responder accepted
	established := attempt && answered // a handshake
	switch {
	case c.rst[o] || c.rst[r]:
		switch {
		case established:
			if c.rst[o] {
				return "RSTO"
			}
			return "RSTR"
		case attempt && c.rst[r]:
			return "REJ"
		case attempt:
			return "RSTOS0"
		case answered && c.rst[r]:
			return "RSTRH"
		}
		return "OTH"
	case established:
		switch {
		case c.fin[o] && c.fin[r]:
			return "SF"
		case c.fin[o]:
			return "S2"
		case c.fin[r]:
			return "S3"
		}
		return "S1"
	case attempt:
		if c.fin[o] {
			return "SH"
		}
		if c.pkts[r] == 0 {
			return "S0"
		}
		return "OTH"
	case answered && c.fin[r]:
		return "SHR"
	}
	return "OTH"
}

// shape is one trace's session shape.
type shape struct {
	convs     int
	handshake float64   // share of conversations with SYN answered by SYN-ACK
	states    []float64 // share per States entry
	respShare []float64 // per conversation: share of its packets sent by the responder
}

func (s *side) shape() shape {
	sh := shape{convs: len(s.convs), states: make([]float64, len(States))}
	at := map[string]int{}
	for i, st := range States {
		at[st] = i
	}
	for i := range s.convs {
		c := &s.convs[i]
		if c.syn[0] && c.synack[1] {
			sh.handshake++
		}
		sh.states[at[c.State()]]++
		sh.respShare = append(sh.respShare, float64(c.pkts[1])/float64(c.pkts[0]+c.pkts[1]))
	}
	n := float64(max(len(s.convs), 1))
	sh.handshake /= n
	for i := range sh.states {
		sh.states[i] /= n
	}
	return sh
}

// Score compares the shapes: the handshake shares' absolute difference,
// the JSD of the conn_state distributions and the EMD of the
// responder's share of each conversation's packets (0 for a one-way
// conversation, ½ for a balanced one).
func (m *Metric) Score() (abi.Scores, error) {
	r, s := m.real.shape(), m.syn.shape()
	if r.convs == 0 {
		return abi.Scores{}, fmt.Errorf("session: the real records hold no TCP conversation")
	}
	hs, st, dir := m.prefix+"_handshake_diff", m.prefix+"_conn_state_jsd", m.prefix+"_resp_share_emd"
	if s.convs == 0 {
		// Nothing to compare with: each score at its largest (shares
		// differ by at most 1, JSD by ln 2).
		return abi.Scores{Values: map[string]float64{hs: r.handshake, st: math.Ln2, dir: 1}}, nil
	}
	rs, ss := slices.Clone(r.respShare), slices.Clone(s.respShare)
	scratch := dist.SortFloats(rs, nil)
	dist.SortFloats(ss, scratch)
	x, fr, fs := dist.CDF(rs, ss)
	states := abi.Series{Name: st, Kind: "histogram"}
	for i, name := range States {
		if r.states[i] > 0 || s.states[i] > 0 {
			states.X = append(states.X, float64(len(states.X)))
			states.Labels = append(states.Labels, name)
			states.Real = append(states.Real, r.states[i])
			states.Synthetic = append(states.Synthetic, s.states[i])
		}
	}
	return abi.Scores{
		Values: map[string]float64{
			hs:  math.Abs(r.handshake - s.handshake),
			st:  dist.JSD(r.states, s.states),
			dir: dist.EMD(rs, ss),
		},
		Series: []abi.Series{
			states,
			{Name: dir, Kind: "cdf", X: x, Real: fr, Synthetic: fs},
			{Name: hs, Kind: "histogram", X: []float64{0}, Labels: []string{"with handshake"}, Real: []float64{r.handshake}, Synthetic: []float64{s.handshake}},
		},
	}, nil
}
