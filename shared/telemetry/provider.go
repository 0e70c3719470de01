package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// NewProvider returns a tracer provider for a binary named service. It
// records spans, so every message a service sends carries a valid trace
// context even before any exporter is configured; pass
// sdktrace.WithBatcher(exporter) to send the spans somewhere. The caller
// shuts it down on exit to flush them.
func NewProvider(service string, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	res := resource.NewSchemaless(attribute.String("service.name", service))
	return sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithResource(res)}, opts...)...)
}
