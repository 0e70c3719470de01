package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/shared/logging"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/syncbuf"
)

// TestLogsCarryTraceIDs joins while presence is down, with a browser's
// traceparent: the gateway's line about the failed join carries that trace
// id, a forced disconnect is logged at info with its reason, and no token
// appears anywhere in the output.
func TestLogsCarryTraceIDs(t *testing.T) {
	c := newCluster(t, options{openRooms: true, noPresence: true, tp: sdktrace.NewTracerProvider()})
	var out syncbuf.Buffer
	log, err := logging.New(func(string) string { return "" }, &out, "json")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(natstest.Connect(t, c.ns, gateway.NATSOptions()...),
		gateway.Config{JWTSecret: secret, JoinTimeout: 300 * time.Millisecond}, log, c.tp)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() { g.Shutdown(context.Background()); srv.Close() })

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	tok := token(t, "alice")
	hdr := http.Header{"Traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}}
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/rooms/logs/ws?access_token="+tok,
		&websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if _, _, err := ws.Read(t.Context()); websocket.CloseStatus(err) != websocket.StatusInternalError {
		t.Fatalf("read: %v, want a 1011 close", err)
	}

	var joinFailed, forced map[string]any
	poll.Until(t, 5*time.Second, "the join failure and the forced close logged", func() bool {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("not a JSON line: %q", sc.Text())
			}
			switch line["msg"] {
			case "presence join failed":
				joinFailed = line
			case "connection closed by the gateway":
				forced = line
			}
		}
		return joinFailed != nil && forced != nil
	})
	if joinFailed["trace_id"] != traceID || joinFailed["span_id"] == nil || joinFailed["level"] != "ERROR" {
		t.Errorf("join failure line %v: want trace_id %s and a span_id", joinFailed, traceID)
	}
	if forced["level"] != "INFO" || forced["reason"] != "error" || forced["connection_id"] == nil {
		t.Errorf("forced close line %v", forced)
	}
	if strings.Contains(out.String(), tok) || strings.Contains(out.String(), string(secret)) {
		t.Error("the log holds a token or the secret")
	}
}
