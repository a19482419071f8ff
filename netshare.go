// Package netshare holds what the repository root ships: the embedded
// default pipeline. The system itself lives under host/ (the runtime and
// CLI), abi/ and sdk/ (the plugin contract and kit) and builtin/ (the
// standard plugins).
package netshare

import _ "embed"

// DefaultPipeline is netshare.toml: the pipeline `netshare run` runs when
// given no file, and the documented example of every section.
//
//go:embed netshare.toml
var DefaultPipeline []byte

// Version is the release of netshare.
const Version = "0.1.0"
