// Command membership runs one instance of Switchboard's membership service,
// connected to the NATS at SWITCHBOARD_NATS_URL. Any number may run at once.
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

	"github.com/switchboard-rtc/switchboard/services/membership"
	"github.com/switchboard-rtc/switchboard/shared/logging"
	"github.com/switchboard-rtc/switchboard/shared/monitor"
	"github.com/switchboard-rtc/switchboard/shared/natsconn"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "membership:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then stops the service and drains NATS.
func run(ctx context.Context, getenv func(string) string, logw io.Writer) (err error) {
	log, err := logging.New(getenv, logw, "json")
	if err != nil {
		return err
	}
	cfg, err := membership.LoadConfig(getenv)
	if err != nil {
		return err
	}
	// Created first, so that its shutdown, which flushes the spans, runs
	// after NATS has drained.
	tp, err := telemetry.NewProvider(ctx, telemetry.MembershipService, getenv)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tp.Shutdown(context.Background())) }()
	nc, err := natsconn.Connect(cfg.NATSURL, subject.MembershipService, log)
	if err != nil {
		return err
	}
	reg := monitor.NewRegistry()
	cfg.Metrics = reg
	svc, err := membership.Start(ctx, nc.Conn, cfg, log, tp)
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
	log.Info("membership started",
		slog.String("nats_url", nc.ConnectedUrlRedacted()),
		slog.Bool("open_rooms", cfg.OpenRooms),
		slog.String("version", membership.Version))

	<-ctx.Done()
	log.Info("membership stopping")
	return errors.Join(svc.Stop(), nc.Drain())
}
