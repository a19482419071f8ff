package abi

import (
	"encoding/binary"
	"encoding/json"
)

// Every request and response body is a frame: a small JSON header for
// control data and a binary body for bulk data (a Batch, Encoded rows, raw
// stream bytes or encoder state).
//
//	request:  u32 header length | u32 0 | header JSON | padding | body
//	response: u8 status | 3 zero bytes | u32 header length | header JSON | padding | body
//
// The padding (zero bytes) starts the body at a multiple of 8 bytes from
// the frame's start, so that a frame in an 8-aligned buffer has an aligned
// body and the numbers in it can be read in place. On StatusError the
// header is {"error": "message"} and the body is empty.

// FramePrefix is the size of the fixed part of a request or response
// frame; a frame without a header has its body at this offset.
const FramePrefix = 8

// Pad is the number of zero bytes that bring n to a multiple of 8.
func Pad(n int) int { return (8 - n%8) % 8 }

// RequestSize is the size of a request frame with a header of h bytes and
// a body of b bytes.
func RequestSize(h, b int) int { return FramePrefix + h + Pad(h) + b }

// AppendRequestHeader writes a request frame up to its body, which the
// caller appends. header may be nil.
func AppendRequestHeader(dst []byte, header []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(header)))
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = append(dst, header...)
	return append(dst, zeros[:Pad(len(header))]...)
}

var zeros [8]byte

// AppendRequest writes a request frame. header may be nil.
func AppendRequest(dst []byte, header any, body []byte) ([]byte, error) {
	h, err := marshalHeader(header)
	if err != nil {
		return nil, err
	}
	return append(AppendRequestHeader(dst, h), body...), nil
}

// SplitRequest returns a request frame's header and body.
func SplitRequest(src []byte) (header, body []byte, err error) {
	r := reader{buf: src}
	n := r.u32()
	r.u32()
	header = r.bytes(int(n))
	r.bytes(Pad(int(n)))
	if r.err != nil {
		return nil, nil, malformed("request frame: %v", r.err)
	}
	return header, src[r.off:], nil
}

// AppendResponseHeader writes a StatusOK response frame up to its body,
// which the caller appends.
func AppendResponseHeader(dst []byte, header []byte) []byte {
	dst = append(dst, StatusOK, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(header)))
	dst = append(dst, header...)
	return append(dst, zeros[:Pad(len(header))]...)
}

// AppendResponse writes a response frame with StatusOK.
func AppendResponse(dst []byte, header any, body []byte) ([]byte, error) {
	h, err := marshalHeader(header)
	if err != nil {
		return nil, err
	}
	return append(AppendResponseHeader(dst, h), body...), nil
}

// AppendError writes a response frame with StatusError and the message.
func AppendError(dst []byte, msg string) []byte {
	h, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	dst = append(dst, StatusError, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h)))
	dst = append(dst, h...)
	return append(dst, zeros[:Pad(len(h))]...)
}

// SplitResponse returns a response's header and body, or the plugin's
// error as a *PluginError.
func SplitResponse(src []byte) (header, body []byte, err error) {
	r := reader{buf: src}
	status := r.u8()
	r.bytes(3)
	n := r.u32()
	header = r.bytes(int(n))
	r.bytes(Pad(int(n)))
	if r.err != nil {
		return nil, nil, malformed("response frame: %v", r.err)
	}
	switch status {
	case StatusOK:
		return header, src[r.off:], nil
	case StatusError:
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(header, &e); err != nil {
			return nil, nil, malformed("error response header: %v", err)
		}
		return nil, nil, &PluginError{Message: e.Error}
	}
	return nil, nil, malformed("response status %d", status)
}

// PluginError is an error a plugin reported through the error convention.
type PluginError struct{ Message string }

func (e *PluginError) Error() string { return e.Message }

func marshalHeader(h any) ([]byte, error) {
	if h == nil {
		return nil, nil
	}
	return json.Marshal(h)
}
