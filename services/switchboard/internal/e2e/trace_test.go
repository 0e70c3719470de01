package e2e

import (
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/shared/poll"
)

// TestCallSetupIsOneTrace connects a client and checks that the gateway's
// connect span, membership's authorize span and presence's join span share
// one trace.
func TestCallSetupIsOneTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c := newCluster(t, options{openRooms: true, tp: tp})
	g := c.gateway(gateway.Config{})
	g.native(t, "traced", "alice")

	var connect sdktrace.ReadOnlySpan
	poll.Until(t, 5*time.Second, "the connect span", func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == "gateway.connect" {
				connect = s
				return true
			}
		}
		return false
	})
	tid := connect.SpanContext().TraceID()
	byScope := map[string]bool{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == tid {
			byScope[s.InstrumentationScope().Name] = true
		}
	}
	for _, scope := range []string{"switchboard/gateway", "switchboard/membership", "switchboard/presence"} {
		if !byScope[scope] {
			t.Errorf("no %s span in the call's trace (have %v)", scope, byScope)
		}
	}
}
