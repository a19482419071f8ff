// Package all registers every builtin encoder. Each encoder lives in its own
// folder beside this one; add one import line here for a new one.
package all

import (
	_ "github.com/netshare/netshare/builtin/encoder/categorical"
	_ "github.com/netshare/netshare/builtin/encoder/continuous"
	_ "github.com/netshare/netshare/builtin/encoder/identity"
	_ "github.com/netshare/netshare/builtin/encoder/ipbits"
	_ "github.com/netshare/netshare/builtin/encoder/mixed"
	_ "github.com/netshare/netshare/builtin/encoder/rank"
	_ "github.com/netshare/netshare/builtin/encoder/time"
	_ "github.com/netshare/netshare/builtin/encoder/word2vec"
)
