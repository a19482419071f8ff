package abi

import (
	"errors"
	"reflect"
	"testing"
)

func TestEncodedRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		e    *Encoded
	}{
		{"mixed, odd index count", &Encoded{Rows: 2, HotWidth: 1, ValueWidth: 2, Hot: []uint32{3, 0}, Values: []float64{1, 2, 3, 4}}},
		{"indices only", &Encoded{Rows: 2, HotWidth: 2, Hot: []uint32{1, 0, 0, 1}, Values: []float64{}}},
		{"values only", &Encoded{Rows: 3, ValueWidth: 1, Hot: []uint32{}, Values: []float64{0.5, -1, 1}}},
		{"no rows", &Encoded{HotWidth: 4, ValueWidth: 3, Hot: []uint32{}, Values: []float64{}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := AppendEncoded(nil, c.e)
			if len(wire) != EncodedSize(c.e.Rows, c.e.HotWidth, c.e.ValueWidth) {
				t.Fatalf("wire is %d bytes, EncodedSize says %d", len(wire), EncodedSize(c.e.Rows, c.e.HotWidth, c.e.ValueWidth))
			}
			// Aligned (views) and misaligned (copies) sources decode alike.
			for _, off := range []int{0, 1, 4} {
				buf := make([]byte, off+len(wire))
				copy(buf[off:], wire)
				got, err := DecodeEncoded(buf[off:])
				if err != nil {
					t.Fatalf("offset %d: %v", off, err)
				}
				if !reflect.DeepEqual(got, c.e) {
					t.Fatalf("offset %d: got %+v want %+v", off, got, c.e)
				}
			}
			for i := range wire {
				if _, err := DecodeEncoded(wire[:i]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix of %d bytes: %v", i, err)
				}
			}
			if _, err := DecodeEncoded(append(wire, 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("trailing byte: %v", err)
			}
		})
	}
}

// PlaceEncoded fills the wire form in place where the buffer is aligned
// and through SyncEncoded where it is not; both give AppendEncoded's bytes.
func TestPlaceEncoded(t *testing.T) {
	want := &Encoded{Rows: 3, HotWidth: 1, ValueWidth: 2, Hot: []uint32{2, 0, 1}, Values: []float64{1, 2, 3, 4, 5, 6}}
	wire := AppendEncoded(nil, want)
	for _, off := range []int{0, 3} {
		buf := make([]byte, off+len(wire))
		for i := range buf {
			buf[i] = 0xAA // no stale zeros to hide a missing write
		}
		e := PlaceEncoded(buf[off:], 3, 1, 2)
		copy(e.Hot, want.Hot)
		copy(e.Values, want.Values)
		SyncEncoded(buf[off:], e)
		if !reflect.DeepEqual(buf[off:], wire) {
			t.Fatalf("offset %d: placed\n%x\nappended\n%x", off, buf[off:], wire)
		}
	}
}

func TestEncodedCheck(t *testing.T) {
	outs := []Output{
		{Name: "bit0", Width: 2, Discrete: true, Activation: ActSoftmax},
		{Name: "v", Width: 2, Activation: ActTanh},
		{Name: "kind", Width: 3, Discrete: true, Activation: ActSoftmax},
	}
	if h, v := Layout(outs); h != 2 || v != 2 {
		t.Fatalf("layout %d %d", h, v)
	}
	ok := &Encoded{Rows: 1, HotWidth: 2, ValueWidth: 2, Hot: []uint32{1, 2}, Values: []float64{0, 0}}
	if err := ok.Check(outs); err != nil {
		t.Fatal(err)
	}
	bad := []*Encoded{
		{Rows: 1, HotWidth: 2, ValueWidth: 2, Hot: []uint32{2, 0}, Values: []float64{0, 0}},
		{Rows: 1, HotWidth: 2, ValueWidth: 2, Hot: []uint32{0, 3}, Values: []float64{0, 0}},
		{Rows: 1, HotWidth: 1, ValueWidth: 2, Hot: []uint32{0}, Values: []float64{0, 0}},
		{Rows: 2, HotWidth: 2, ValueWidth: 2, Hot: []uint32{0, 0}, Values: []float64{0, 0}},
	}
	for i, e := range bad {
		if err := e.Check(outs); err == nil {
			t.Errorf("case %d passed", i)
		}
	}
}

func FuzzDecodeEncoded(f *testing.F) {
	f.Add(AppendEncoded(nil, &Encoded{Rows: 2, HotWidth: 1, ValueWidth: 1, Hot: []uint32{1, 0}, Values: []float64{1, 2}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEncoded(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if got := AppendEncoded(nil, e); !reflect.DeepEqual(got, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func TestOrAll(t *testing.T) {
	for n := 0; n < 20; n++ {
		s := make([]uint32, n+1)
		for i := range s {
			s[i] = 1 << (i % 32)
		}
		// Both alignments of the slice start.
		for _, v := range [][]uint32{s[:n], s[1:]} {
			var want uint32
			for _, x := range v {
				want |= x
			}
			if got := orAll(v); got != want {
				t.Fatalf("len %d: orAll %#x, want %#x", len(v), got, want)
			}
		}
	}
}
