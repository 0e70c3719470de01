package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestNew(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var buf bytes.Buffer
	log, err := New(env(map[string]string{LevelVar: "warn"}), &buf, "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	log.WarnContext(ctx, "shown", "k", "v")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("one JSON line, got %q: %v", buf.String(), err)
	}
	if line["msg"] != "shown" || line["trace_id"] != tid.String() || line["span_id"] != sid.String() || line["k"] != "v" {
		t.Fatalf("line %v", line)
	}

	buf.Reset()
	log, _ = New(env(nil), &buf, "text")
	log.With("a", 1).Info("plain")
	if s := buf.String(); !strings.Contains(s, "msg=plain") || strings.Contains(s, "trace_id") {
		t.Fatalf("text line %q", s)
	}
	for _, bad := range []map[string]string{{FormatVar: "xml"}, {LevelVar: "loud"}} {
		if _, err := New(env(bad), &buf, "json"); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                       "nats://127.0.0.1:4222",
		"nats://user:secret@a:4222,nats://tok@b:4222": "nats://redacted@a:4222,nats://redacted@b:4222",
		"a:4222":             "a:4222",
		"user:secret@a:4222": "[redacted]",
	} {
		got := RedactURLs(in)
		if got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "tok@") {
			t.Errorf("RedactURLs(%q) leaks: %q", in, got)
		}
	}
}
