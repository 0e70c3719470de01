// Command switchboard is the all-in-one Switchboard (an embedded NATS server
// with JetStream and one of each service), the operator's command-line
// client, and a load generator for any deployment (switchboard bench).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/allinone"
	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/bench"
	"github.com/switchboard-rtc/switchboard/services/switchboard/internal/cli"
	"github.com/switchboard-rtc/switchboard/shared/auth"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/env"
	"github.com/switchboard-rtc/switchboard/shared/logging"
	"github.com/switchboard-rtc/switchboard/shared/monitor"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, cli.ErrUsage) {
		fmt.Fprintf(os.Stderr, "switchboard: %v\n\n%s\n", err, cli.Usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cenv := cli.Env{Getenv: getenv, Stdout: stdout, Now: time.Now}
	cmd := "run"
	if len(args) > 0 && args[0] != "--dev" {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		dev := false
		for _, a := range args {
			if a != "--dev" {
				return fmt.Errorf("%w: run takes only --dev, got %q", cli.ErrUsage, a)
			}
			dev = true
		}
		return runAll(ctx, getenv, dev, stdout, stderr)
	case "token":
		return cli.Token(args, cenv)
	case "bench":
		return bench.Run(ctx, args, bench.Env{Getenv: getenv, Stdout: stdout, Stderr: stderr})
	case "rooms", "members", "presence":
		url, err := env.NATS(getenv)
		if err != nil {
			return err
		}
		nc, err := nats.Connect(url, nats.Name("switchboard-cli"))
		if err != nil {
			return fmt.Errorf("connect to NATS at %s (SWITCHBOARD_NATS_URL): %w", url, err)
		}
		defer nc.Close()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		switch cmd {
		case "rooms":
			return cli.Rooms(ctx, nc, args, cenv)
		case "members":
			return cli.Members(ctx, nc, args, cenv)
		}
		return cli.Presence(ctx, nc, args, cenv)
	case "help", "-h", "--help":
		_, err := fmt.Fprintln(stdout, cli.Usage)
		return err
	}
	return fmt.Errorf("%w: unknown command %q", cli.ErrUsage, cmd)
}

// runAll runs the all-in-one until ctx is done.
func runAll(ctx context.Context, getenv func(string) string, dev bool, stdout, stderr io.Writer) error {
	cfg, err := allinone.LoadConfig(getenv, dev)
	if err != nil {
		return err
	}
	format := "json"
	if dev {
		format = "text"
	}
	log, err := logging.New(getenv, stderr, format)
	if err != nil {
		return err
	}
	var tp allinone.Tracers
	for _, t := range []struct {
		dst     *trace.TracerProvider
		service string
	}{{&tp.Gateway, telemetry.GatewayService}, {&tp.Membership, telemetry.MembershipService}, {&tp.Presence, telemetry.PresenceService}} {
		p, err := telemetry.NewProvider(ctx, t.service, getenv)
		if err != nil {
			return err
		}
		// Deferred before anything stops: the spans are flushed after
		// NATS has drained.
		defer p.Shutdown(context.Background())
		*t.dst = p
	}
	reg := monitor.NewRegistry()
	cfg.Metrics = reg
	sys, err := allinone.Start(ctx, cfg, log, tp)
	if err != nil {
		return err
	}
	metricsAddr, err := monitor.Start(ctx, getenv, reg, sys.Gateway.Ready, log)
	if err != nil {
		return errors.Join(err, sys.Stop())
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("SWITCHBOARD_HTTP_ADDR %s: %w", cfg.HTTPAddr, err), sys.Stop())
	}
	if err := banner(stdout, cfg, ln.Addr().String(), sys.NATS.ClientURL(), metricsAddr); err != nil {
		return errors.Join(err, ln.Close(), sys.Stop())
	}
	err = gateway.Serve(ctx, sys.Gateway, ln, log)
	return errors.Join(err, sys.Stop())
}

// banner tells a person how to connect.
func banner(w io.Writer, cfg allinone.Config, httpAddr, natsURL, metricsAddr string) error {
	host, port, _ := net.SplitHostPort(httpAddr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	base := "ws://" + net.JoinHostPort(host, port)
	fmt.Fprintf(w, "Switchboard is running.\n  gateway:  %s  (native: /v1/rooms/{room_id}/ws, Dyson: /api/chat/realtime/{chat_id})\n  NATS:     %s\n", base, natsURL)
	if metricsAddr != "" {
		fmt.Fprintf(w, "  metrics:  http://%s/metrics  (and /debug/pprof/)\n", metricsAddr)
	}
	if !cfg.Dev {
		return nil
	}
	now := time.Now()
	alice, err := auth.Mint(cfg.JWTSecret, contract.User{ID: "alice", Name: "Alice"}, 24*time.Hour, now)
	if err != nil {
		return err
	}
	bob, err := auth.Mint(cfg.JWTSecret, contract.User{ID: "bob", Name: "Bob"}, 24*time.Hour, now)
	if err != nil {
		return err
	}
	if cfg.SecretGenerated {
		fmt.Fprintf(w, "\nDev mode: rooms that do not exist are open. A JWT secret was made for this run:\n  export SWITCHBOARD_JWT_SECRET=%s\n", cfg.JWTSecret)
	}
	_, err = fmt.Fprintf(w, `
Tokens, valid for 24h:
  alice: %[2]s
  bob:   %[3]s

Try a call in room "demo": paste into two browser consoles, one per user.
  const ws = new WebSocket("%[1]s/v1/rooms/demo/ws?access_token=%[2]s");
  ws.onmessage = (e) => console.log(e.data);
  // after the other side joins:
  ws.send(JSON.stringify({type: "signal", data: {kind: "offer", sdp: "v=0"}}));
(use bob's token in the second console). From a shell, with websocat:
  websocat "%[1]s/v1/rooms/demo/ws?access_token=%[3]s"
More tokens: SWITCHBOARD_JWT_SECRET=... bin/switchboard token --user carol
`, base, alice, bob)
	return err
}
