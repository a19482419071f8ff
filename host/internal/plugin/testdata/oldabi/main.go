// Command oldabi claims an ABI version the host does not speak.
package main

//go:wasmexport netshare_abi_version
func version() uint32 { return 99 }

//go:wasmexport netshare_buffer
func buffer(n uint32) uint32 { return 0 }

//go:wasmexport netshare_call
func call(op, handle, n uint32) uint64 { return 0 }

func main() {}
