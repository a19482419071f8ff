package textrec

import (
	"math"
	"strings"
	"testing"

	"github.com/netshare/netshare/abi"
)

func TestParseIPv4(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"10.0.0.1", 0x0a000001, true},
		{"255.255.255.255", math.MaxUint32, true},
		{"0.0.0.0", 0, true},
		{"1730436467", 1730436467, true},
		{"4294967295", math.MaxUint32, true},
		{"4294967296", 0, false},
		{"1.2.3", 0, false},
		{"1.2.3.4.5", 0, false},
		{"1.2.3.256", 0, false},
		{"1..3.4", 0, false},
		{"1.2.3.", 0, false},
		{".1.2.3", 0, false},
		{"01.2.3.0004", 0, false},
		{"1.2.3.x", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"::1", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseIPv4([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseIPv4(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok {
			back, _ := ParseIPv4(AppendIPv4(nil, got))
			if back != got {
				t.Errorf("AppendIPv4(%d) does not read back", got)
			}
		}
	}
}

func TestParseScaled(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"1458298072364000.0", 0, 1458298072364000, true},
		{"1458298072364000", 0, 1458298072364000, true},
		{"1655071198.444458", 6, 1655071198444458, true},
		{"1655071198.4444585", 6, 1655071198444459, true},
		{"1655071198.4444584", 6, 1655071198444458, true},
		{"1655071198", 6, 1655071198000000, true},
		{"12.5", 3, 12500, true},
		{"-1.5", 6, -1500000, true},
		{".5", 0, 1, true},
		{"1.458298072364e+15", 0, 1458298072364000, true},
		{"1e3", 6, 1000000000, true},
		{"", 0, 0, false},
		{"-", 0, 0, false},
		{".", 6, 0, false},
		{"1.2.3", 0, 0, false},
		{"abc", 0, 0, false},
		{"99999999999999999999", 0, 0, false},
		{"9999999999999999", 6, 0, false},
		{"1e400", 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseScaled([]byte(tt.in), tt.scale)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseScaled(%q, %d) = %d, %v; want %d, %v", tt.in, tt.scale, got, ok, tt.want, tt.ok)
		}
	}
	for _, v := range []int64{0, 1, -1, 1655071198444458, -999999, 123456} {
		for _, scale := range []int{0, 3, 6} {
			s := AppendScaled(nil, v, scale)
			back, ok := ParseScaled(s, scale)
			if !ok || back != v {
				t.Errorf("AppendScaled(%d, %d) = %q reads back as %d, %v", v, scale, s, back, ok)
			}
		}
	}
}

func TestParseNumbers(t *testing.T) {
	uints := []struct {
		in   string
		max  uint64
		want uint64
		ok   bool
	}{
		{"53", 65535, 53, true},
		{"53.0", 65535, 53, true},
		{"53.00", 65535, 53, true},
		{"53.5", 65535, 0, false},
		{"65536", 65535, 0, false},
		{"65535", 65535, 65535, true},
		{"", 65535, 0, false},
		{"+1", 65535, 0, false},
		{"18446744073709551616", math.MaxUint64, 0, false},
	}
	for _, tt := range uints {
		got, ok := ParseUint([]byte(tt.in), tt.max)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseUint(%q, %d) = %d, %v; want %d, %v", tt.in, tt.max, got, ok, tt.want, tt.ok)
		}
	}
	counts := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"62", 62, true}, {"62.0", 62, true}, {"61.6", 62, true}, {"1.5e3", 1500, true},
		{"-1", 0, false}, {"NaN", 0, false}, {"inf", 0, false}, {"x", 0, false}, {"1e30", 0, false},
	}
	for _, tt := range counts {
		got, ok := ParseCount([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseProto(t *testing.T) {
	tests := []struct {
		in   string
		want uint8
		ok   bool
	}{
		{"TCP", 6, true}, {"tcp", 6, true}, {"UDP", 17, true}, {"ICMP", 1, true}, {"GRE", 47, true},
		{"ESP", 50, true}, {"IPIP", 4, true}, {"IPv6", 41, true}, {"OTHER", 255, true},
		{"SCTP", 255, true}, {"unknown_transport", 255, true},
		{"6", 6, true}, {"255", 255, true}, {"256", 0, false}, {"", 0, false}, {"T C P", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseProto([]byte(tt.in))
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseProto(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for n := 0; n < 256; n++ {
		if name := ProtoName(uint8(n)); name != "" {
			if back, _ := ParseProto([]byte(name)); back != uint8(n) {
				t.Errorf("ProtoName(%d) = %q reads back as %d", n, name, back)
			}
		}
	}
}

func TestLines(t *testing.T) {
	input := "a,b\r\n\nlonger line here\nlast"
	want := []string{"a,b", "", "longer line here", "last"}
	for _, size := range []int{1, 2, 3, 5, 100} {
		var l Lines
		var got []string
		fn := func(line []byte, num int64, tooLong bool) {
			if tooLong {
				t.Fatalf("size %d: line %d reported too long", size, num)
			}
			if int(num) != len(got)+1 {
				t.Fatalf("size %d: line number %d, want %d", size, num, len(got)+1)
			}
			got = append(got, string(line))
		}
		for p := input; len(p) > 0; {
			n := min(size, len(p))
			l.Feed([]byte(p[:n]), fn)
			p = p[n:]
		}
		l.Finish(fn)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("size %d: got %q, want %q", size, got, want)
		}
	}
}

func TestLinesTooLong(t *testing.T) {
	for _, size := range []int{1, 4, 64} {
		l := Lines{MaxLen: 8}
		var got []string
		fn := func(line []byte, num int64, tooLong bool) {
			if tooLong {
				got = append(got, "LONG")
				return
			}
			got = append(got, string(line))
		}
		input := "ok\n0123456789abc\nfine\n0123456789"
		for p := input; len(p) > 0; {
			n := min(size, len(p))
			l.Feed([]byte(p[:n]), fn)
			p = p[n:]
		}
		l.Finish(fn)
		if strings.Join(got, "|") != "ok|LONG|fine|LONG" {
			t.Errorf("size %d: got %q", size, got)
		}
	}
}

func TestStringColAndSkips(t *testing.T) {
	var sc StringCol
	c := abi.Column{Name: "label", Type: abi.TypeString}
	for _, v := range []string{"a", "b", "a", "a", "c"} {
		sc.Add(&c, []byte(v))
	}
	if len(c.Dict) != 3 || c.String(3) != "a" || c.String(4) != "c" {
		t.Errorf("dict %q codes %v", c.Dict, c.Codes)
	}
	var s Skips
	for i := 1; i <= MaxNoted+2; i++ {
		s.Add("bad srcip", int64(i*10), Quote([]byte("1.2.3")))
	}
	st := s.Stats(5, nil)
	if st.Skipped["bad srcip"] != MaxNoted+2 || st.Records != 5 {
		t.Errorf("stats %+v", st)
	}
	note := st.Notes["first skipped"]
	if !strings.HasPrefix(note, `line 10 (bad srcip: "1.2.3")`) || strings.Count(note, "line ") != MaxNoted {
		t.Errorf("note %q", note)
	}
}

func TestIntAt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		col     abi.Column
		want    int64
		wantErr string
	}{
		{"i64", abi.Column{Name: "x", Type: abi.TypeI64, I64: []int64{-7}}, -7, ""},
		{"time", abi.Column{Name: "ts", Type: abi.TypeTime, I64: []int64{1700}}, 1700, ""},
		{"u16", abi.Column{Name: "p", Type: abi.TypeU16, U16: []uint16{443}}, 443, ""},
		{"float rounds", abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{2.5}}, 3, ""},
		{"float at the limit", abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{1000}}, 0, "out of range"},
		{"NaN", abi.Column{Name: "x", Type: abi.TypeF64, F64: []float64{math.NaN()}}, 0, "out of range"},
		{"string", abi.Column{Name: "s", Type: abi.TypeString, Dict: []string{"a"}, Codes: []uint32{0}}, 0, "not numeric"},
	} {
		got, err := IntAt(&tc.col, 0, 1000)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: got %d, %v; want an error with %q", tc.name, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}
