package membership

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

func TestTraceContext(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	s := natstest.Server(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	svc, err := Start(ctx, natstest.Connect(t, s), Config{}, slog.New(slog.DiscardHandler), tp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	nc := natstest.Connect(t, s)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := nats.NewMsg(subject.MembershipRoomsCreate)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Data = []byte(mustJSON(contract.CreateRoomRequest{RoomID: "traced", OwnerID: "alice", Policy: contract.PolicyOpen}))
	reply, err := nc.RequestMsg(req, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	tp1 := reply.Header.Get("traceparent")
	if len(tp1) != 55 || tp1[3:35] != traceID {
		t.Errorf("reply traceparent = %q, want one in trace %s", tp1, traceID)
	}

	var span sdktrace.ReadOnlySpan
	poll.Until(t, 5*time.Second, "the server span to end", func() bool {
		for _, sp := range rec.Ended() {
			if sp.SpanKind() == trace.SpanKindServer {
				span = sp
				return true
			}
		}
		return false
	})
	if got := span.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("server span trace id = %s, want %s", got, traceID)
	}
	if got := span.Parent().SpanID().String(); got != "00f067aa0ba902b7" {
		t.Errorf("server span parent = %s, want the caller's span", got)
	}
	if got := span.SpanContext().SpanID().String(); tp1[36:52] != got {
		t.Errorf("reply traceparent span %s, want the server span %s", tp1[36:52], got)
	}
}
