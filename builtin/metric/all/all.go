// Package all registers every builtin metric. Each metric lives in its own
// folder beside this one; add one import line here for a new one.
package all

import (
	_ "github.com/netshare/netshare/builtin/metric/anomaly"
	_ "github.com/netshare/netshare/builtin/metric/audit"
	_ "github.com/netshare/netshare/builtin/metric/classify"
	_ "github.com/netshare/netshare/builtin/metric/emd"
	_ "github.com/netshare/netshare/builtin/metric/flowiat"
	_ "github.com/netshare/netshare/builtin/metric/flowsize"
	_ "github.com/netshare/netshare/builtin/metric/joint"
	_ "github.com/netshare/netshare/builtin/metric/jsd"
	_ "github.com/netshare/netshare/builtin/metric/session"
	_ "github.com/netshare/netshare/builtin/metric/sketch"
)
