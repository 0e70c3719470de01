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
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-rtc/switchboard/services/membership"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "membership:", err)
		os.Exit(1)
	}
}

// drainTimeout bounds how long shutdown waits for NATS to drain.
const drainTimeout = 10 * time.Second

// run serves until ctx is done, then stops the service and drains NATS.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := membership.LoadConfig(getenv)
	if err != nil {
		return err
	}

	closed := make(chan struct{})
	nc, err := nats.Connect(cfg.NATSURL,
		nats.Name(subject.MembershipService),
		nats.MaxReconnects(-1),
		nats.DrainTimeout(drainTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", slog.Any("err", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", slog.String("nats_url", nc.ConnectedUrlRedacted()))
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}

	tp := telemetry.NewProvider("membership")
	defer tp.Shutdown(context.Background()) // flushes spans once an exporter is set
	svc, err := membership.Start(ctx, nc, cfg, log, tp)
	if err != nil {
		nc.Close()
		return err
	}
	log.Info("membership started",
		slog.String("nats_url", nc.ConnectedUrlRedacted()),
		slog.Bool("open_rooms", cfg.OpenRooms),
		slog.String("version", membership.Version))

	<-ctx.Done()
	log.Info("membership stopping")
	err = svc.Stop()
	if derr := nc.Drain(); derr != nil {
		nc.Close()
		return errors.Join(err, fmt.Errorf("drain NATS: %w", derr))
	}
	select {
	case <-closed:
	case <-time.After(drainTimeout + time.Second):
		nc.Close()
		err = errors.Join(err, errors.New("drain NATS: timed out"))
	}
	return err
}
