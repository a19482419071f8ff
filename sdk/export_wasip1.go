//go:build wasip1

package sdk

import (
	"runtime"
	"unsafe"

	"github.com/netshare/netshare/abi"
)

// The module's exports. Memory protocol: the host asks netshare_buffer for
// a request buffer of at least size bytes, writes the request frame there,
// then calls netshare_call, which returns ptr<<32|len of the response frame.
// Both buffers stay valid until the next call; Go's collector does not move
// objects, and the globals keep them alive.

var (
	dispatcher = NewDispatcher()
	request    []byte
	response   []byte
	// received counts the request bytes since the last forced collection.
	received uint64
)

// collectEvery is how many request bytes a module takes between forced
// collections. Inside the sandbox the clock is wazero's fake one, which
// advances on every read; the Go collector's CPU limiter, timing itself
// with it, then lets the heap outgrow its goal and even GOMEMLIMIT, cycle
// after cycle, until the module dies at its memory cap while its live
// data is small (a 10M-record fit of stateless encoders did). A forced
// collection is not limited, so garbage stays below about this much
// (each batch a call decodes is garbage after it), for one collection per
// 16 MiB of requests. At 64 MiB the garbage alone could take a module
// from 14 to 26 MiB between a 131k- and a 524k-record fit of the same
// vocabulary (TestFitMemoryBounded, host/internal/encoding); at 16 MiB it
// stays at 12.5 → 13.8 MiB, and that fit takes no longer (5.7–6.8 s
// against 6.6 s).
const collectEvery = 16 << 20

//go:wasmexport netshare_abi_version
func exportVersion() uint32 { return abi.Version }

//go:wasmexport netshare_buffer
func exportBuffer(size uint32) uint32 {
	if received += uint64(size); received > collectEvery {
		received = 0
		runtime.GC()
	}
	if int(size) > cap(request) {
		request = make([]byte, size)
	}
	request = request[:size]
	if size == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&request[0])))
}

//go:wasmexport netshare_call
func exportCall(op, handle, size uint32) uint64 {
	if int(size) > len(request) {
		response = abi.AppendError(response[:0], "request size exceeds the buffer netshare_buffer returned")
	} else {
		response = dispatcher.Call(abi.Op(op), handle, request[:size])
	}
	if len(response) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&response[0])))<<32 | uint64(len(response))
}
