// Package telemetry carries OpenTelemetry trace context across NATS: every
// message a Switchboard service sends has W3C traceparent and tracestate
// headers, and every handler continues the trace it receives.
//
// The propagator is fixed to W3C Trace Context so that it works whatever the
// process-wide OpenTelemetry globals say.
package telemetry

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

var propagator = propagation.TraceContext{}

// Carrier adapts NATS message headers to a propagation.TextMapCarrier.
type Carrier nats.Header

// Get returns the first value for key.
func (c Carrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values for key.
func (c Carrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the header names.
func (c Carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes ctx's trace context into h, which must not be nil.
func Inject(ctx context.Context, h nats.Header) { propagator.Inject(ctx, Carrier(h)) }

// Header returns a new header holding ctx's trace context.
func Header(ctx context.Context) nats.Header {
	h := nats.Header{}
	Inject(ctx, h)
	return h
}

// Extract returns ctx continued with the trace context found in h.
func Extract(ctx context.Context, h nats.Header) context.Context {
	if h == nil {
		return ctx
	}
	return propagator.Extract(ctx, Carrier(h))
}

// ExtractHTTP returns ctx continued with the trace context of an HTTP
// request's headers, so a client that traces its own calls sees the
// gateway's work inside them.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Msg returns a message for subj carrying data and ctx's trace context.
func Msg(ctx context.Context, subj string, data []byte) *nats.Msg {
	return &nats.Msg{Subject: subj, Data: data, Header: Header(ctx)}
}

// Publish sends data on subj with ctx's trace context.
func Publish(ctx context.Context, nc *nats.Conn, subj string, data []byte) error {
	return nc.PublishMsg(Msg(ctx, subj, data))
}

// Request sends data on subj with ctx's trace context and waits for the reply
// until ctx is done.
func Request(ctx context.Context, nc *nats.Conn, subj string, data []byte) (*nats.Msg, error) {
	return nc.RequestMsgWithContext(ctx, Msg(ctx, subj, data))
}
