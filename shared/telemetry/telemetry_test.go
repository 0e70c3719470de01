package telemetry

import (
	"context"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

func TestRoundTripThroughHeaders(t *testing.T) {
	tp, err := NewProvider(context.Background(), "test", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	defer span.End()

	h := Header(ctx)
	if h.Get("traceparent") == "" {
		t.Fatalf("no traceparent in %v", h)
	}
	got := trace.SpanContextFromContext(Extract(context.Background(), h))
	if got.TraceID() != span.SpanContext().TraceID() || !got.IsRemote() {
		t.Fatalf("extracted %v, want trace %v", got, span.SpanContext().TraceID())
	}
	if Extract(context.Background(), nil) == nil {
		t.Fatal("nil header")
	}

	hh := http.Header{}
	hh.Set("Traceparent", h.Get("traceparent"))
	if got := trace.SpanContextFromContext(ExtractHTTP(context.Background(), hh)); got.TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("HTTP extract: %v", got)
	}
	m := Msg(ctx, "s", []byte("x"))
	if m.Subject != "s" || nats.Header(m.Header).Get("traceparent") == "" {
		t.Fatalf("Msg: %+v", m)
	}
}

func TestExporting(t *testing.T) {
	for env, want := range map[[2]string]bool{
		{"", ""}:                                                false,
		{"OTEL_TRACES_EXPORTER", "none"}:                        false,
		{"OTEL_TRACES_EXPORTER", "otlp"}:                        true,
		{"OTEL_TRACES_EXPORTER", "console"}:                     true,
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}:        true,
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318"}: true,
	} {
		got := exporting(func(k string) string {
			if k == env[0] {
				return env[1]
			}
			return ""
		})
		if got != want {
			t.Errorf("%v: exporting = %v, want %v", env, got, want)
		}
	}
}

// TestSamplingWithoutExporter: with no exporter, a root span is not
// sampled, a span under a sampled remote parent is, and an explicit
// sampler wins.
func TestSamplingWithoutExporter(t *testing.T) {
	tp, err := NewProvider(context.Background(), "test", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(context.Background())
	_, root := tp.Tracer("t").Start(context.Background(), "root")
	if root.SpanContext().IsSampled() {
		t.Error("a root span was sampled with nothing to export it")
	}
	h := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	_, child := tp.Tracer("t").Start(ExtractHTTP(context.Background(), h), "child")
	if !child.SpanContext().IsSampled() {
		t.Error("a span under a sampled caller was not sampled")
	}

	t.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	tp2, err := NewProvider(context.Background(), "test", func(k string) string {
		if k == "OTEL_TRACES_SAMPLER" {
			return "always_on"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tp2.Shutdown(context.Background())
	if _, s := tp2.Tracer("t").Start(context.Background(), "root"); !s.SpanContext().IsSampled() {
		t.Error("OTEL_TRACES_SAMPLER=always_on did not sample a root span")
	}
}
