package abi

import (
	"encoding/binary"
	"encoding/json"
)

// Every request and response body is a frame: a small JSON header for
// control data and a binary body for bulk data (a Batch, a Matrix, raw
// stream bytes or encoder state).
//
//	request:  u32 header length | header JSON | body
//	response: u8 status | u32 header length | header JSON | body
//
// On StatusError the header is {"error": "message"} and the body is empty.

// AppendRequest writes a request frame. header may be nil.
func AppendRequest(dst []byte, header any, body []byte) ([]byte, error) {
	h, err := marshalHeader(header)
	if err != nil {
		return nil, err
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h)))
	dst = append(dst, h...)
	return append(dst, body...), nil
}

// SplitRequest returns a request frame's header and body.
func SplitRequest(src []byte) (header, body []byte, err error) {
	r := reader{buf: src}
	n := r.u32()
	header = r.bytes(int(n))
	if r.err != nil {
		return nil, nil, malformed("request frame: %v", r.err)
	}
	return header, src[r.off:], nil
}

// AppendResponse writes a response frame with StatusOK.
func AppendResponse(dst []byte, header any, body []byte) ([]byte, error) {
	h, err := marshalHeader(header)
	if err != nil {
		return nil, err
	}
	dst = append(dst, StatusOK)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h)))
	dst = append(dst, h...)
	return append(dst, body...), nil
}

// AppendError writes a response frame with StatusError and the message.
func AppendError(dst []byte, msg string) []byte {
	h, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	dst = append(dst, StatusError)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(h)))
	return append(dst, h...)
}

// SplitResponse returns a response's header and body, or the plugin's
// error as a *PluginError.
func SplitResponse(src []byte) (header, body []byte, err error) {
	r := reader{buf: src}
	status := r.u8()
	n := r.u32()
	header = r.bytes(int(n))
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
