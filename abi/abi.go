// Package abi is the contract between the netshare host and its WebAssembly
// plugins: the plugin kinds, the exported functions, the operations, and the
// binary layout of the data that crosses the boundary. It depends only on
// the standard library (and the module's internal/suggest, which does too),
// so that both the host and plugins built with the sdk can import it. See README.md in this directory for the whole
// protocol on one page.
package abi

import "strconv"

// Version is the ABI version. A module exports it from netshare_abi_version;
// the host refuses a module whose version differs.
const Version uint32 = 2

// Names of the functions every plugin module exports (besides the reactor's
// _initialize, which the Go toolchain generates for -buildmode=c-shared).
const (
	ExportVersion = "netshare_abi_version" // () -> u32
	ExportBuffer  = "netshare_buffer"      // (size u32) -> ptr u32
	ExportCall    = "netshare_call"        // (op u32, handle u32, size u32) -> u64 = ptr<<32 | len
)

// Kind is a plugin component kind.
type Kind string

const (
	KindFormat  Kind = "format"  // decodes byte streams into record batches and back
	KindEncoder Kind = "encoder" // maps a field to float vectors for the GAN and back
	KindMetric  Kind = "metric"  // scores a synthetic table against a real one
)

// Kinds lists the valid kinds.
var Kinds = []Kind{KindFormat, KindEncoder, KindMetric}

// Op is an operation code passed to netshare_call.
type Op uint32

const (
	OpManifest Op = 1 // -> header: Manifest
	OpOpen     Op = 2 // header: OpenRequest -> header: OpenReply
	OpClose    Op = 3 // handle -> nothing

	// Formats.
	OpDetect   Op = 10 // body: leading bytes of a stream -> header: DetectReply
	OpRead     Op = 11 // body: next piece of the stream -> body: Batch of records completed so far
	OpReadEnd  Op = 12 // -> header: ReadStats, body: Batch of the remaining records
	OpWrite    Op = 13 // body: Batch -> body: bytes to append to the stream
	OpWriteEnd Op = 14 // -> body: final bytes of the stream

	// Encoders.
	OpFit    Op = 20 // body: Batch (any number of calls)
	OpFitEnd Op = 21 // -> body: fitted state (opaque to the host)
	OpLoad   Op = 22 // body: fitted state -> header: LoadReply
	OpEncVal Op = 23 // body: Batch holding the field's column -> body: Encoded
	OpDecVal Op = 24 // body: Encoded -> body: Batch holding the field's column

	// Metrics.
	OpAddReal      Op = 30 // body: Batch (any number of calls)
	OpAddSynthetic Op = 31 // body: Batch (any number of calls)
	OpScore        Op = 32 // -> header: Scores
)

var opNames = map[Op]string{
	OpManifest: "manifest", OpOpen: "open", OpClose: "close",
	OpDetect: "detect", OpRead: "read", OpReadEnd: "read-end",
	OpWrite: "write", OpWriteEnd: "write-end",
	OpFit: "fit", OpFitEnd: "fit-end", OpLoad: "load", OpEncVal: "encode-values", OpDecVal: "decode-values",
	OpAddReal: "add-real", OpAddSynthetic: "add-synthetic", OpScore: "score",
}

func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return "op(" + strconv.FormatUint(uint64(o), 10) + ")"
}

// Response status byte.
const (
	StatusOK    byte = 0
	StatusError byte = 1
)

// Format open modes.
const (
	ModeRead  = "decode" // the wire keeps ABI 2's words
	ModeWrite = "encode"
)

// Format names of ABI 2's first release, kept until every caller uses the
// read/write names above.
//
// Deprecated: use OpRead, OpReadEnd, OpWrite, OpWriteEnd, ModeRead,
// ModeWrite and ReadStats.
const (
	OpDecode    = OpRead
	OpDecodeEnd = OpReadEnd
	OpEncode    = OpWrite
	OpEncodeEnd = OpWriteEnd
	ModeDecode  = ModeRead
	ModeEncode  = ModeWrite
)

// DecodeStats is ReadStats.
//
// Deprecated: use ReadStats.
type DecodeStats = ReadStats

// OpenRequest creates a component instance inside the module. Params have
// already been validated by the host against the component's manifest entry.
type OpenRequest struct {
	Kind   Kind           `json:"kind"`
	Name   string         `json:"name"`
	Params map[string]any `json:"params,omitempty"`
	Seed   int64          `json:"seed"`
	// Mode is ModeRead or ModeWrite for formats.
	Mode string `json:"mode,omitempty"`
	// Column names the field an encoder instance serves.
	Column string `json:"column,omitempty"`
}

// OpenReply carries the handle that later calls name.
type OpenReply struct {
	Handle uint32 `json:"handle"`
}

// DetectReply says whether a format recognises a stream from its first bytes.
type DetectReply struct {
	Match bool `json:"match"`
}

// ReadStats reports what a format reader did with a whole stream. Nothing is
// dropped silently: every record not returned is counted under a reason.
type ReadStats struct {
	Records int64            `json:"records"`
	Skipped map[string]int64 `json:"skipped,omitempty"`
	// Notes are per-file facts worth showing a user (link type, precision).
	Notes map[string]string `json:"notes,omitempty"`
}

// Output describes one slice of the encoded vector, as the GAN sees it.
type Output struct {
	Name       string `json:"name"`
	Width      int    `json:"width"`
	Discrete   bool   `json:"discrete"`
	Activation string `json:"activation"` // ActSoftmax, ActSigmoid or ActTanh
}

// Activations for Output.
const (
	ActSoftmax = "softmax"
	ActSigmoid = "sigmoid"
	ActTanh    = "tanh"
)

// LoadReply describes an encoder's output once its state is loaded.
type LoadReply struct {
	Outputs []Output `json:"outputs"`
}

// Scores is a metric's result: named values and series for plots.
type Scores struct {
	Values map[string]float64 `json:"values"`
	Series []Series           `json:"series,omitempty"`
}

// Series is one plot: a shared x axis and the real and synthetic curves
// (CDF or histogram, as Kind says).
type Series struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // "cdf" or "histogram"
	X         []float64 `json:"x"`
	Real      []float64 `json:"real"`
	Synthetic []float64 `json:"synthetic"`
	// Labels, when set, name the x positions (categorical values).
	Labels []string `json:"labels,omitempty"`
}
