// Command gateway serves Switchboard's client WebSockets, connected to the
// NATS at SWITCHBOARD_NATS_URL.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/shared/logging"
	"github.com/switchboard-rtc/switchboard/shared/monitor"
	"github.com/switchboard-rtc/switchboard/shared/natsconn"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, logw io.Writer) (err error) {
	log, err := logging.New(getenv, logw, "json")
	if err != nil {
		return err
	}
	cfg, err := gateway.LoadConfig(getenv)
	if err != nil {
		return err
	}
	// Created first, so that its shutdown, which flushes the spans, runs
	// after NATS has drained.
	tp, err := telemetry.NewProvider(ctx, telemetry.GatewayService, getenv)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tp.Shutdown(context.Background())) }()
	nc, err := natsconn.Connect(cfg.NATSURL, "gateway", log, gateway.NATSOptions()...)
	if err != nil {
		return err
	}
	// Drain last, so that the leaves of closing sockets are out.
	defer func() { err = errors.Join(err, nc.Drain()) }()

	reg := monitor.NewRegistry()
	cfg.Metrics = reg
	g, err := gateway.New(nc.Conn, cfg, log, tp)
	if err != nil {
		return err
	}
	if _, err := monitor.Start(ctx, getenv, reg, g.Ready, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("SWITCHBOARD_HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	log.Info("gateway listening", slog.String("addr", ln.Addr().String()), slog.String("nats_url", logging.RedactURLs(cfg.NATSURL)))
	return gateway.Serve(ctx, g, ln, log)
}
