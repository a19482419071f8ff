package sample

import (
	"testing"

	"github.com/netshare/netshare/abi"
)

func TestPacketsDeterministicAndPlausible(t *testing.T) {
	a, b := Packets(DefaultOptions()), Packets(DefaultOptions())
	if string(abi.AppendBatch(nil, a)) != string(abi.AppendBatch(nil, b)) {
		t.Fatal("same seed, different traces")
	}
	o := DefaultOptions()
	o.Seed = 2
	if string(abi.AppendBatch(nil, Packets(o))) == string(abi.AppendBatch(nil, a)) {
		t.Fatal("different seeds, same trace")
	}
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	n := a.Len()
	if n < 2000 || n > 8000 {
		t.Fatalf("%d packets, want a few thousand", n)
	}
	ts := a.Column("ts").I64
	protos := map[uint8]int{}
	for i := 0; i < n; i++ {
		if i > 0 && ts[i] < ts[i-1] {
			t.Fatalf("packet %d out of time order", i)
		}
		protos[a.Column("proto").U8[i]]++
		if l := a.Column("pkt_len").U16[i]; l < 20 || l > 1500 {
			t.Fatalf("packet %d has length %d", i, l)
		}
	}
	for _, p := range []uint8{1, 6, 17} {
		if protos[p] == 0 {
			t.Errorf("no packets of protocol %d", p)
		}
	}
}
