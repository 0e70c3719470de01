// Package logging builds the slog logger every Switchboard binary writes,
// from SWITCHBOARD_LOG_FORMAT and SWITCHBOARD_LOG_LEVEL, and adds the trace
// and span ids of the context a line is logged in.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// Variables read here.
const (
	FormatVar = "SWITCHBOARD_LOG_FORMAT" // json or text
	LevelVar  = "SWITCHBOARD_LOG_LEVEL"  // debug, info, warn or error
)

// New returns a logger writing to w in the configured format (defaultFormat
// when unset) at the configured level (info when unset).
func New(getenv func(string) string, w io.Writer, defaultFormat string) (*slog.Logger, error) {
	format := getenv(FormatVar)
	if format == "" {
		format = defaultFormat
	}
	var level slog.Level
	if v := getenv(LevelVar); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("%s %q: want debug, info, warn or error", LevelVar, v)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("%s %q: want json or text", FormatVar, format)
	}
	return slog.New(traced{h}), nil
}

// traced adds trace_id and span_id to records logged with a context that
// holds a valid span.
type traced struct{ slog.Handler }

func (t traced) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return t.Handler.Handle(ctx, r)
}

func (t traced) WithAttrs(as []slog.Attr) slog.Handler { return traced{t.Handler.WithAttrs(as)} }
func (t traced) WithGroup(name string) slog.Handler    { return traced{t.Handler.WithGroup(name)} }

// RedactURLs returns a comma-separated list of URLs with any user info
// (user, password, token) replaced, for logging.
func RedactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			if strings.Contains(p, "@") {
				parts[i] = "[redacted]"
			}
			continue
		}
		u.User = url.User("redacted")
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
