package monitor

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	ready := errors.New("not yet")
	srv := httptest.NewServer(Handler(NewRegistry(), func(context.Context) error { return ready }))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
		t.Fatalf("/metrics: %d, runtime or process series missing", code)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Fatalf("/readyz while not ready: %d", code)
	}
	ready = nil
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz when ready: %d", code)
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/: %d", code)
	}
}

func TestStartOff(t *testing.T) {
	addr, err := Start(context.Background(), func(string) string { return "" }, NewRegistry(), nil, nil)
	if addr != "" || err != nil {
		t.Fatalf("unset address: %q, %v; want off", addr, err)
	}
	if _, err := Start(context.Background(), func(string) string { return "256.0.0.1:x" }, NewRegistry(), nil, nil); err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_METRICS_ADDR") {
		t.Fatalf("bad address: %v", err)
	}
}
