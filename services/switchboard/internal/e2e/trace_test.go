package e2e

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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

// TestEveryMessageCarriesTraceContext watches every message on the room,
// membership and presence subjects during a short call and checks each has
// a traceparent header.
func TestEveryMessageCarriesTraceContext(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	c := newCluster(t, options{openRooms: true, tp: tp})
	var mu sync.Mutex
	seen := map[string]int{}
	var missing []string
	sub, err := c.nc.Subscribe(">", func(m *nats.Msg) {
		if !strings.HasPrefix(m.Subject, "room.") && !strings.HasPrefix(m.Subject, "membership.") && !strings.HasPrefix(m.Subject, "presence.") {
			return
		}
		kind := strings.SplitN(m.Subject, ".", 3)
		mu.Lock()
		defer mu.Unlock()
		seen[kind[0]+"."+kind[len(kind)-1]]++
		if m.Header.Get("traceparent") == "" {
			missing = append(missing, m.Subject)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	g := c.gateway(gateway.Config{HeartbeatInterval: 50 * time.Millisecond})
	a, _ := g.native(t, "t", "alice")
	b, _ := g.dyson(t, "t", "bob")
	a.expect("joined")
	a.signal(`1`, "", "")
	b.next()
	b.ws.CloseNow()
	a.expect("left")
	for _, want := range []string{"room.signal", "room.presence", "membership.authorize", "presence.join", "presence.leave", "presence.heartbeat"} {
		poll.Until(t, 5*time.Second, "a message on "+want, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return seen[want] > 0
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(missing) > 0 {
		t.Fatalf("messages without traceparent: %v (seen %v)", missing, seen)
	}
}
