// Package all registers every builtin format. Each format lives in its own
// folder beside this one; add one import line here for a new one.
package all

import (
	_ "github.com/netshare/netshare/builtin/format/netflowcsv"
	_ "github.com/netshare/netshare/builtin/format/pcap"
	_ "github.com/netshare/netshare/builtin/format/zeekconn"
)
