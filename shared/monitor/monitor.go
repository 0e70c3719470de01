// Package monitor is every binary's monitoring listener
// (SWITCHBOARD_METRICS_ADDR): Prometheus metrics at /metrics, /healthz,
// /readyz, and the Go profiler at /debug/pprof/.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-rtc/switchboard/shared/env"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors, for a binary's services to register their metrics with.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves /metrics from g, /healthz, /readyz (200 while ready
// returns nil; nil ready: always), and /debug/pprof/.
func Handler(g prometheus.Gatherer, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil {
			if err := ready(r.Context()); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Listen opens the listener at addr; an empty addr is off (nil, nil).
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_METRICS_ADDR %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx is done. A nil ln does nothing.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) {
	if ln == nil {
		return
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("monitoring listener stopped", slog.Any("err", err))
	}
}

// Start serves the monitoring endpoints for reg on SWITCHBOARD_METRICS_ADDR
// until ctx is done, and returns the address it listens on ("" when the
// variable is unset or empty: off).
func Start(ctx context.Context, getenv func(string) string, reg prometheus.Gatherer, ready func(context.Context) error, log *slog.Logger) (string, error) {
	ln, err := Listen(getenv(env.MetricsAddr))
	if err != nil || ln == nil {
		return "", err
	}
	go Serve(ctx, ln, Handler(reg, ready), log)
	return ln.Addr().String(), nil
}
