package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Service names, the service.name of each service's spans (also inside the
// all-in-one, so that a trace shows which service did what).
const (
	GatewayService    = "switchboard-gateway"
	MembershipService = "switchboard-membership"
	PresenceService   = "switchboard-presence"
)

// NewProvider returns a tracer provider for service, configured by the
// standard OpenTelemetry environment: the exporter (OTEL_TRACES_EXPORTER,
// OTEL_EXPORTER_OTLP_*), the sampler (OTEL_TRACES_SAMPLER and its
// argument), the resource (OTEL_RESOURCE_ATTRIBUTES, and OTEL_SERVICE_NAME
// over service). With no exporter variable set, nothing is exported and
// nothing is said about it, and unless OTEL_TRACES_SAMPLER says otherwise
// only work whose caller sent a sampled trace context is sampled. The
// caller shuts the provider down on exit, to flush what is batched.
func NewProvider(ctx context.Context, service string, getenv func(string) string) (*sdktrace.TracerProvider, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	switch {
	case exporting(getenv):
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("trace exporter (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*): %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	case getenv("OTEL_TRACES_SAMPLER") == "":
		// Spans would go nowhere: sample only what a caller's sampled
		// trace context asks for (a browser's traceparent), which is then
		// carried on to every service, and spare everything else the
		// recording and the trace headers.
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	}
	return sdktrace.NewTracerProvider(opts...), nil
}

// exporting reports whether the environment asks for spans to be exported:
// autoexport would otherwise default to OTLP on localhost.
func exporting(getenv func(string) string) bool {
	if v := getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return v != "none"
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}
