// Package builtin embeds the builtin plugin module: the standard formats,
// encoders and metrics, written with the sdk and compiled to Wasm. The
// compiled file is committed so that a clean clone builds with go build
// alone; `go generate ./builtin` rebuilds it, and a test fails when the
// committed file differs from a fresh build.
package builtin

import _ "embed"

//go:generate env GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false "-ldflags=-s -w -buildid=" -o builtin.wasm ./module

// Wasm is the builtin module.
//
//go:embed builtin.wasm
var Wasm []byte

// Name is the builtin module's name in manifests and error messages.
const Name = "builtin"
