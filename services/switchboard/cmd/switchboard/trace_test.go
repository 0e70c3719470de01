package main

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-rtc/switchboard/shared/poll"
)

// span is what the test keeps of an exported span.
type span struct {
	service, name     string
	trace, id, parent string
	attrs             map[string]string
}

// otlpReceiver is an OTLP/HTTP trace receiver (protobuf), in process.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []span
}

func newOTLPReceiver(t testing.TB) *otlpReceiver {
	r := &otlpReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var msg coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &msg)
		}
		if req.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("receiver: %s %v", req.URL.Path, err)
			http.Error(w, "bad request", 400)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.GetResourceSpans() {
			service := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					service = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					attrs := map[string]string{}
					for _, a := range s.GetAttributes() {
						v := a.GetValue()
						attrs[a.GetKey()] = v.GetStringValue()
						if _, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
							attrs[a.GetKey()] = strconv.FormatInt(v.GetIntValue(), 10)
						}
					}
					r.spans = append(r.spans, span{service, s.GetName(), hex.EncodeToString(s.GetTraceId()),
						hex.EncodeToString(s.GetSpanId()), hex.EncodeToString(s.GetParentSpanId()), attrs})
				}
			}
		}
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) find(name string) (span, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.spans {
		if s.name == name {
			return s, true
		}
	}
	return span{}, false
}

// TestTracesExported runs the all-in-one with an OTLP endpoint set and
// joins with a browser's traceparent: the connect's spans reach the
// receiver, each with its service's name, in the browser's trace, the
// gateway's span a child of the browser's.
func TestTracesExported(t *testing.T) {
	recv := newOTLPReceiver(t)
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY":     "50",
	}
	for k, v := range env { // the OpenTelemetry SDK reads the process environment
		t.Setenv(k, v)
	}
	out, stop := startDev(t, env)

	const browserTrace, browserSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, snippet.FindStringSubmatch(out.String())[1], &websocket.DialOptions{
		HTTPHeader: http.Header{"Traceparent": {"00-" + browserTrace + "-" + browserSpan + "-01"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(dctx); err != nil {
		t.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	want := map[string]string{
		"gateway.connect":      "switchboard-gateway",
		"membership.authorize": "switchboard-membership",
		"presence.join":        "switchboard-presence",
	}
	poll.Until(t, 10*time.Second, "the connect's spans exported", func() bool {
		for name := range want {
			if _, ok := recv.find(name); !ok {
				return false
			}
		}
		return true
	})
	for name, service := range want {
		s, _ := recv.find(name)
		if s.service != service || s.trace != browserTrace {
			t.Errorf("%s: service %q trace %s; want %q in the browser's trace", name, s.service, s.trace, service)
		}
	}
	c, _ := recv.find("gateway.connect")
	if c.parent != browserSpan {
		t.Errorf("gateway.connect's parent is %s, want the browser's span %s", c.parent, browserSpan)
	}
	for k, want := range map[string]string{
		"http.request.method":       "GET",
		"url.path":                  "/v1/rooms/demo/ws",
		"http.response.status_code": "101",
		"switchboard.room_id":       "demo",
		"switchboard.user_id":       "alice",
		"switchboard.dialect":       "native",
	} {
		if c.attrs[k] != want {
			t.Errorf("gateway.connect %s = %q, want %q", k, c.attrs[k], want)
		}
	}
	if !strings.HasPrefix(c.attrs["switchboard.connection_id"], "c_") {
		t.Errorf("gateway.connect has no connection id: %v", c.attrs)
	}
	token := regexp.MustCompile(`access_token=([^"&]+)`).FindStringSubmatch(out.String())[1]
	recv.mu.Lock()
	for _, s := range recv.spans {
		for k, v := range s.attrs {
			if strings.Contains(v, token) {
				t.Errorf("span %s attribute %s holds the token", s.name, k)
			}
		}
	}
	recv.mu.Unlock()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
