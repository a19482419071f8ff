package zeekconn

import (
	"os"
	"strings"
	"testing"

	"github.com/netshare/netshare/internal/shareddata"
)

// FuzzDecode checks, for any input, that decoding never panics, yields valid
// batches, does not depend on where the stream is cut, and that what it
// decodes survives a write/read round trip unchanged.
//
//	go test ./builtin/format/zeekconn -run '^$' -fuzz FuzzDecode -fuzztime 3m
func FuzzDecode(f *testing.F) {
	if p, err := shareddata.Lookup("flows", ctu40); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 5000)], uint16(1200))
		}
	}
	f.Add([]byte("#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tlabel\n1.5\t::1\t1\t10.0.0.2\t2\ttcp\ta\\x09b\n2\t1.2.3.4\t1\t10.0.0.2\t2\tudp\t(empty)\n"), uint16(60))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		p := params(t, nil)
		whole, st, err := decode(p, data)
		c := int(cut) % (len(data) + 1)
		parts, st2, err2 := decode(p, data[:c], data[c:])
		if (err == nil) != (err2 == nil) {
			t.Fatalf("whole: %v; in pieces: %v", err, err2)
		}
		if err != nil {
			return
		}
		if strings.Join(rowsOf(whole), "\n") != strings.Join(rowsOf(parts), "\n") || st.Records != st2.Records {
			t.Fatal("records depend on where the stream is cut")
		}
		if st.Records == 0 {
			return
		}
		log := encode(t, 3, whole)
		again, st3, err := decode(p, log)
		if err != nil {
			t.Fatalf("re-reading: %v\n%s", err, log)
		}
		if len(st3.Skipped) > 0 {
			t.Fatalf("re-reading skipped %v %v\n%s", st3.Skipped, st3.Notes, log)
		}
		// Protocols other than tcp/udp/icmp become unknown_transport (255).
		a, b := rowsOf(whole), rowsOf(again)
		// service and conn_state are always written; absent, they read
		// back unset.
		for _, col := range []string{"service", "conn_state"} {
			if whole[0].Column(col) == nil {
				for i := range b {
					b[i] = strings.Replace(b[i], "|"+col+"=-", "", 1)
				}
			}
		}
		for i := range a {
			a[i] = normProto(a[i])
		}
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Fatalf("round trip changed records:\n%q\n%q", a, b)
		}
	})
}

// normProto maps a record's proto to what a conn.log can hold.
func normProto(rec string) string {
	i := strings.Index(rec, "|proto=")
	if i < 0 {
		return rec
	}
	j := strings.IndexByte(rec[i+1:], '|') + i + 1
	switch rec[i+7 : j] {
	case "6", "17", "1":
		return rec
	}
	return rec[:i] + "|proto=255" + rec[j:]
}
