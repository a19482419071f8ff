package flow

import (
	"os"
	"reflect"
	"testing"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/builtin/format/pcap"
	"github.com/netshare/netshare/internal/shareddata"
	"github.com/netshare/netshare/sdk/sdktest"
)

// conv builds packet records from (ts, src, dst, sport, dport) rows.
func conv(rows ...[5]int) *abi.Batch {
	b := &abi.Batch{Columns: []abi.Column{
		{Name: "ts", Type: abi.TypeTime}, {Name: "srcip", Type: abi.TypeIPv4}, {Name: "dstip", Type: abi.TypeIPv4},
		{Name: "srcport", Type: abi.TypeU16}, {Name: "dstport", Type: abi.TypeU16}, {Name: "proto", Type: abi.TypeU8},
		{Name: "pkt_len", Type: abi.TypeU16},
	}}
	c := b.Columns
	for i, r := range rows {
		c[0].I64 = append(c[0].I64, int64(r[0]))
		c[1].U32, c[2].U32 = append(c[1].U32, uint32(r[1])), append(c[2].U32, uint32(r[2]))
		c[3].U16, c[4].U16 = append(c[3].U16, uint16(r[3])), append(c[4].U16, uint16(r[4]))
		c[5].U8, c[6].U16 = append(c[5].U8, 6), append(c[6].U16, uint16(40+i))
	}
	return b
}

func TestOrient(t *testing.T) {
	// Conversation 1: 9:5000 → 2:80 and back (9 > 2, so the initiator's
	// key is the larger one); conversation 2: one-way. Rows out of time
	// order on purpose: the initiator is the first sender in time.
	b := conv(
		[5]int{30, 2, 9, 80, 5000},
		[5]int{10, 9, 2, 5000, 80},
		[5]int{20, 2, 9, 80, 5000},
		[5]int{15, 7, 8, 1, 2},
		[5]int{40, 9, 2, 5000, 80},
	)
	o, err := Orient(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.Column(DirColumn).U8, []uint8{1, 0, 1, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("dir %v, want %v", got, want)
	}
	if got := o.Column("srcip").U32; !reflect.DeepEqual(got, []uint32{9, 9, 9, 7, 9}) {
		t.Errorf("oriented srcip %v", got)
	}
	if got := o.Column("dstport").U16; !reflect.DeepEqual(got, []uint16{80, 80, 80, 2, 80}) {
		t.Errorf("oriented dstport %v", got)
	}
	if b.Column("srcip").U32[0] != 2 {
		t.Error("Orient changed its input")
	}
	s, err := Split(o, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.NumFlows != 2 {
		t.Errorf("%d flows, want 2 conversations", s.NumFlows)
	}
	back, err := Unorient(o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, b) {
		t.Errorf("Unorient(Orient(b)) differs:\n%+v\n%+v", back.Columns, b.Columns)
	}
	// Generated directions come back as floats.
	o.Columns[len(o.Columns)-1] = abi.Column{Name: DirColumn, Type: abi.TypeF64, F64: []float64{0.9, 0.1, 1, 0, 0.2}}
	if back, err = Unorient(o); err != nil || !reflect.DeepEqual(back, b) {
		t.Errorf("float directions: %v", err)
	}
	if _, err := Orient(o); err == nil {
		t.Error("records with a dir column oriented again")
	}
	if _, err := Orient(&abi.Batch{Columns: b.Columns[:2]}); err == nil {
		t.Error("records without ports oriented")
	}
}

func TestReverseShareAndChoice(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     *abi.Batch
		share float64
		want  Direction
	}{
		{"one conversation both ways, one one-way", conv([5]int{1, 9, 2, 5, 80}, [5]int{2, 2, 9, 80, 5}, [5]int{3, 7, 8, 1, 2}), 2.0 / 3, Bidirectional},
		{"one-way", conv([5]int{1, 9, 2, 5, 80}, [5]int{2, 9, 2, 5, 80}, [5]int{3, 7, 8, 1, 2}), 0, Directed},
		{"flow records", &abi.Batch{Columns: []abi.Column{{Name: "td", Type: abi.TypeF64, F64: []float64{1}}}}, 0, Directed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, share := ChooseDirection(tc.b)
			if d != tc.want || share != tc.share {
				t.Errorf("got %v at share %g, want %v at %g", d, share, tc.want, tc.share)
			}
		})
	}
}

// TestChooseDirectionRealTraces logs what Auto picks for the shared
// captures: the one-way ones (a backbone link, attack traffic captured
// in front of the victim: no flow has its reverse) stay directed; the
// CIC-DDoS2019 SYN flood holds the victim's RST-ACKs, so it pairs.
func TestChooseDirectionRealTraces(t *testing.T) {
	dir := shareddata.Path(t, "pcap")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		bs, _, err := sdktest.Read(pcap.NewReader(), data)
		if err != nil {
			t.Fatal(err)
		}
		var all abi.Batch
		for _, b := range bs {
			all.Columns = mergeColumns(all.Columns, b.Columns)
		}
		d, share := ChooseDirection(&all)
		t.Logf("%s: %.3f of flows have a reverse flow: %v", e.Name(), share, d)
		if share == 0 && d != Directed {
			t.Errorf("%s: a one-direction capture chose %v", e.Name(), d)
		}
		if share >= MinReverseShare && d != Bidirectional {
			t.Errorf("%s: share %g chose %v", e.Name(), share, d)
		}
	}
}

func mergeColumns(dst, src []abi.Column) []abi.Column {
	if dst == nil {
		return src
	}
	for i := range dst {
		dst[i].U8 = append(dst[i].U8, src[i].U8...)
		dst[i].U16 = append(dst[i].U16, src[i].U16...)
		dst[i].U32 = append(dst[i].U32, src[i].U32...)
		dst[i].I64 = append(dst[i].I64, src[i].I64...)
		dst[i].F64 = append(dst[i].F64, src[i].F64...)
	}
	return dst
}
