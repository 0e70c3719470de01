package gateway

import (
	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
	"github.com/switchboard-rtc/switchboard/services/gateway/internal/dyson"
	"github.com/switchboard-rtc/switchboard/services/gateway/internal/native"
)

// dialects are the wire protocols every gateway speaks, matched against a
// request's path in this order. Adding one is one line here.
var dialects = []dialect.Dialect{
	native.Dialect{},
	dyson.Dialect{},
}

// maxDialects bounds len(dialects), so that per-signal render caches live
// on the stack.
const maxDialects = 8

func init() {
	if len(dialects) > maxDialects {
		panic("gateway: raise maxDialects")
	}
}
