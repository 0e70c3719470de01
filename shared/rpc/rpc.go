// Package rpc is JSON request/reply over NATS micro services, with trace
// context on both legs: Handle wraps a typed handler into a micro.Handler,
// and Call is the client side.
//
// Errors cross the wire as micro error headers (Nats-Service-Error-Code and
// Nats-Service-Error); Call turns them back into *Error, so callers can tell
// a refusal (400, 404, 409) from a failure.
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

// Error is an error a service returns to its caller: an HTTP-like code and a
// description meant for people.
type Error struct {
	Code        int
	Description string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Description) }

// Errorf returns an *Error with code and a formatted description.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Timeout bounds each request a handler serves.
const Timeout = 5 * time.Second

// Func serves one decoded request. Returning an *Error sends that code;
// any other error is logged and sent as a 500 without its text.
type Func[Req, Rep any] func(ctx context.Context, req *Req) (*Rep, error)

// Handle returns a micro.Handler that decodes the JSON request into Req
// (400 if it is not JSON), continues the caller's trace, runs f with a
// per-request timeout and replies with JSON.
func Handle[Req, Rep any](tracer trace.Tracer, log *slog.Logger, name string, f Func[Req, Rep], opts ...Option) micro.Handler {
	var o handleOptions
	for _, opt := range opts {
		opt(&o)
	}
	return micro.HandlerFunc(func(r micro.Request) {
		start := time.Now()
		ctx := telemetry.Extract(context.Background(), nats.Header(r.Headers()))
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		ctx, cancel := context.WithTimeout(ctx, Timeout)
		defer cancel()

		hdr := micro.WithHeaders(micro.Headers(telemetry.Header(ctx)))
		var req Req
		var rep *Rep
		err := json.Unmarshal(r.Data(), &req)
		if err != nil {
			err = Errorf(400, "request is not valid JSON: %v", jsonProblem(err))
		} else {
			rep, err = f(ctx, &req)
		}
		if err != nil {
			var re *Error
			if !errors.As(err, &re) {
				log.ErrorContext(ctx, "request failed", slog.String("subject", r.Subject()), slog.Any("err", err))
				re = &Error{Code: 500, Description: "internal error"}
			}
			span.SetStatus(codes.Error, re.Description)
			// Counted before the reply goes, so a caller that has the reply
			// sees it counted.
			o.observe(re.Code, start)
			if rerr := r.Error(strconv.Itoa(re.Code), re.Description, nil, hdr); rerr != nil {
				log.WarnContext(ctx, "reply failed", slog.String("subject", r.Subject()), slog.Any("err", rerr))
			}
			return
		}
		o.observe(0, start)
		if rerr := r.RespondJSON(rep, hdr); rerr != nil {
			log.WarnContext(ctx, "reply failed", slog.String("subject", r.Subject()), slog.Any("err", rerr))
		}
	})
}

// jsonProblem keeps the part of a decoding error a caller can act on.
func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("field %q has the wrong type", ute.Field)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "cannot decode"
}

// Call sends req as JSON to subj with ctx's trace context and decodes the
// reply into rep. A service error comes back as *Error.
func Call(ctx context.Context, nc *nats.Conn, subj string, req, rep any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", subj, err)
	}
	msg, err := telemetry.Request(ctx, nc, subj, data)
	if err != nil {
		return fmt.Errorf("%s: %w", subj, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		n, _ := strconv.Atoi(code)
		return &Error{Code: n, Description: msg.Header.Get(micro.ErrorHeader)}
	}
	if rep == nil {
		return nil
	}
	if err := json.Unmarshal(msg.Data, rep); err != nil {
		return fmt.Errorf("%s: decode reply: %w", subj, err)
	}
	return nil
}
