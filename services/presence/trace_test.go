package presence

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

func TestTraceContextIsContinued(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	s := natstest.Server(t)
	startService(t, s, testConfig, tp)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "r1")

	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    traceID,
		SpanID:     trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	ctx, cancel := context.WithTimeout(trace.ContextWithRemoteSpanContext(context.Background(), parent), 5*time.Second)
	defer cancel()
	var rep contract.JoinReply
	err := rpc.Call(ctx, nc, subject.PresenceJoin, contract.JoinRequest{
		RoomID:      "r1",
		Participant: contract.Participant{ConnectionID: "c1", User: contract.User{ID: "u"}, GatewayID: "g"},
		Lease:       "L1",
	}, &rep)
	if err != nil {
		t.Fatal(err)
	}

	evs := events.take()
	if len(evs) != 1 {
		t.Fatalf("events = %+v, want one joined", evs)
	}
	if tp := evs[0].Header.Get("traceparent"); !strings.Contains(tp, traceID.String()) {
		t.Errorf("joined event traceparent = %q, want trace id %s", tp, traceID)
	}

	poll.Until(t, 5*time.Second, "a server span for the join in the caller's trace", func() bool {
		for _, sp := range rec.Ended() {
			if sp.Name() == subject.PresenceJoin && sp.SpanKind() == trace.SpanKindServer &&
				sp.SpanContext().TraceID() == traceID && sp.Parent().SpanID() == parent.SpanID() {
				return true
			}
		}
		return false
	})
}
