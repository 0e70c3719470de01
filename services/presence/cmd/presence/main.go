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

	"github.com/switchboard-rtc/switchboard/services/presence"
	"github.com/switchboard-rtc/switchboard/shared/logging"
	"github.com/switchboard-rtc/switchboard/shared/monitor"
	"github.com/switchboard-rtc/switchboard/shared/natsconn"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "presence:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down in order: the service, then
// the NATS connection.
func run(ctx context.Context, getenv func(string) string, logw io.Writer) (err error) {
	log, err := logging.New(getenv, logw, "json")
	if err != nil {
		return err
	}
	cfg, err := presence.LoadConfig(getenv)
	if err != nil {
		return err
	}
	// Created first, so that its shutdown, which flushes the spans, runs
	// after NATS has drained.
	tp, err := telemetry.NewProvider(ctx, telemetry.PresenceService, getenv)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tp.Shutdown(context.Background())) }()
	nc, err := natsconn.Connect(cfg.NATSURL, subject.PresenceService, log)
	if err != nil {
		return err
	}
	reg := monitor.NewRegistry()
	cfg.Metrics = reg
	svc, err := presence.Start(ctx, nc.Conn, cfg, log, tp)
	if err != nil {
		nc.Close()
		return err
	}
	ready := func(context.Context) error {
		if !nc.IsConnected() {
			return errors.New("NATS is not connected")
		}
		return nil
	}
	if _, err := monitor.Start(ctx, getenv, reg, ready, log); err != nil {
		return errors.Join(err, svc.Stop(), nc.Drain())
	}
	log.Info("presence started", slog.String("nats_url", nc.ConnectedUrlRedacted()),
		slog.Duration("lease_ttl", cfg.LeaseTTL), slog.Duration("reap_interval", cfg.ReapInterval))

	<-ctx.Done()
	log.Info("presence stopping")
	return errors.Join(svc.Stop(), nc.Drain())
}
