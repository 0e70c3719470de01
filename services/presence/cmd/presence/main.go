// Command presence runs one instance of the presence service against the
// NATS server at SWITCHBOARD_NATS_URL.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-rtc/switchboard/services/presence"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

// drainTimeout bounds how long shutdown waits for NATS to drain.
const drainTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "presence:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down in order: the service, then
// the NATS connection.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) (err error) {
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := presence.LoadConfig(getenv)
	if err != nil {
		return err
	}
	closed := make(chan struct{})
	nc, err := nats.Connect(cfg.NATSURL,
		nats.Name("presence"),
		nats.MaxReconnects(-1),
		nats.DrainTimeout(drainTimeout),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", slog.Any("err", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
	)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.NATSURL, err)
	}
	tp := telemetry.NewProvider("presence")
	defer tp.Shutdown(context.Background()) // flushes spans once an exporter is set
	svc, err := presence.Start(ctx, nc, cfg, log, tp)
	if err != nil {
		nc.Close()
		return err
	}
	log.Info("presence started", slog.String("nats_url", nc.ConnectedUrlRedacted()),
		slog.Duration("lease_ttl", cfg.LeaseTTL), slog.Duration("reap_interval", cfg.ReapInterval))

	<-ctx.Done()
	log.Info("presence stopping")
	err = svc.Stop()
	if derr := nc.Drain(); derr != nil {
		nc.Close()
		return errors.Join(err, fmt.Errorf("drain: %w", derr))
	}
	<-closed // Drain closes the connection within drainTimeout.
	return err
}
