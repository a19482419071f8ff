// Command rawbad speaks the ABI by hand, without the sdk, and answers
// malformed data: a response outside its memory, and a frame with an
// unknown status. The manifest and open replies are valid so the host gets
// as far as a real call.
package main

import (
	"bytes"
	"encoding/binary"
	"unsafe"
)

var req, resp []byte

// frame is an OK response: status, three zero bytes, the header's length,
// the header, and zero padding to a multiple of 8.
func frame(header string) uint64 {
	resp = append(resp[:0], 0, 0, 0, 0)
	resp = binary.LittleEndian.AppendUint32(resp, uint32(len(header)))
	resp = append(resp, header...)
	for len(resp)%8 != 0 {
		resp = append(resp, 0)
	}
	return uint64(uintptr(unsafe.Pointer(&resp[0])))<<32 | uint64(len(resp))
}

//go:wasmexport netshare_abi_version
func version() uint32 { return 2 }

//go:wasmexport netshare_buffer
func buffer(n uint32) uint32 {
	req = make([]byte, n+1)
	return uint32(uintptr(unsafe.Pointer(&req[0])))
}

//go:wasmexport netshare_call
func call(op, handle, n uint32) uint64 {
	switch op {
	case 1:
		return frame(`{"abi":2,"module":"rawbad","components":[{"kind":"encoder","name":"outofbounds","version":"1"},{"kind":"encoder","name":"badstatus","version":"1"}]}`)
	case 2:
		if bytes.Contains(req[:n], []byte("outofbounds")) {
			return frame(`{"handle":1}`)
		}
		return frame(`{"handle":2}`)
	}
	if handle == 1 {
		return uint64(0xFFFFFFF0)<<32 | 64
	}
	resp = append(resp[:0], 7, 0, 0, 0, 0, 0, 0, 0)
	return uint64(uintptr(unsafe.Pointer(&resp[0])))<<32 | uint64(len(resp))
}

func main() {}
