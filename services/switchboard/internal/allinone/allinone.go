// Package allinone runs the whole of Switchboard in one process: an
// embedded NATS server with JetStream, and one membership, one presence and
// one gateway service on it. Other processes (more gateways, the CLI) may
// join through the embedded server's listen address.
package allinone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/services/membership"
	"github.com/switchboard-rtc/switchboard/services/presence"
	"github.com/switchboard-rtc/switchboard/shared/env"
	"github.com/switchboard-rtc/switchboard/shared/natsembed"
)

// Config configures the all-in-one.
type Config struct {
	HTTPAddr   string // SWITCHBOARD_HTTP_ADDR
	NATSListen string // SWITCHBOARD_NATS_LISTEN, host:port of the embedded server
	DataDir    string // SWITCHBOARD_DATA_DIR, JetStream storage
	JWTSecret  []byte // SWITCHBOARD_JWT_SECRET
	OpenRooms  bool   // SWITCHBOARD_OPEN_ROOMS
	GatewayID  string // SWITCHBOARD_GATEWAY_ID
	// Gateway holds the gateway's per-connection limits
	// (SWITCHBOARD_MAX_FRAMES_PER_SECOND, ...).
	Gateway gateway.Config
	// Metrics is where every service registers its Prometheus series;
	// nil: each keeps its own, unexposed.
	Metrics prometheus.Registerer

	// Dev makes a JWT secret when none is set, and opens rooms that do not
	// exist unless SWITCHBOARD_OPEN_ROOMS says otherwise.
	Dev bool
	// SecretGenerated is set by LoadConfig when Dev made the secret.
	SecretGenerated bool
}

// LoadConfig reads the all-in-one's configuration from the environment.
// SWITCHBOARD_GATEWAY_ID is checked where the gateway starts.
func LoadConfig(getenv func(string) string, dev bool) (Config, error) {
	c := Config{
		HTTPAddr:   or(getenv("SWITCHBOARD_HTTP_ADDR"), gateway.DefaultHTTPAddr),
		NATSListen: or(getenv("SWITCHBOARD_NATS_LISTEN"), "127.0.0.1:4222"),
		DataDir:    or(getenv("SWITCHBOARD_DATA_DIR"), "./data"),
		JWTSecret:  []byte(getenv("SWITCHBOARD_JWT_SECRET")),
		GatewayID:  getenv("SWITCHBOARD_GATEWAY_ID"),
		Dev:        dev,
	}
	var errs []error
	open, err := env.Bool(getenv, env.OpenRooms, dev)
	if err != nil {
		errs = append(errs, err)
	}
	c.OpenRooms = open
	if err := c.Gateway.LoadLimits(getenv); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := splitHostPort(c.NATSListen); err != nil {
		errs = append(errs, fmt.Errorf("SWITCHBOARD_NATS_LISTEN %q: %w", c.NATSListen, err))
	}
	if len(c.JWTSecret) == 0 {
		if dev {
			b := make([]byte, 32)
			_, _ = rand.Read(b)
			c.JWTSecret = []byte(hex.EncodeToString(b))
			c.SecretGenerated = true
		} else {
			errs = append(errs, errors.New("SWITCHBOARD_JWT_SECRET is not set: set it, or run with --dev to have one made"))
		}
	}
	return c, errors.Join(errs...)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// System is a running all-in-one.
type System struct {
	NATS       *server.Server
	Gateway    *gateway.Gateway
	membership *membership.Service
	presence   *presence.Service
	conns      []*nats.Conn
	closed     []chan struct{} // one per conn, closed when it is
}

// Tracers are the tracer providers of the all-in-one's services, one each,
// so that each service's spans carry its own service.name.
type Tracers struct {
	Gateway, Membership, Presence trace.TracerProvider
}

// Start starts the embedded server and the three services.
func Start(ctx context.Context, cfg Config, log *slog.Logger, tp Tracers) (s *System, err error) {
	host, port, err := splitHostPort(cfg.NATSListen)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_NATS_LISTEN: %w", err)
	}
	ns, err := natsembed.Start(natsembed.Options{Host: host, Port: port, StoreDir: cfg.DataDir, Name: "switchboard"})
	if err != nil {
		return nil, err
	}
	s = &System{NATS: ns}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
		}
	}()
	// connect connects in process unless opts say otherwise.
	connect := func(name string, opts ...nats.Option) (*nats.Conn, error) {
		closed := make(chan struct{})
		nc, err := nats.Connect(ns.ClientURL(), append([]nats.Option{nats.Name(name), nats.InProcessServer(ns),
			nats.ClosedHandler(func(*nats.Conn) { close(closed) })}, opts...)...)
		if err != nil {
			return nil, fmt.Errorf("connect %s to the embedded NATS server: %w", name, err)
		}
		s.conns = append(s.conns, nc)
		s.closed = append(s.closed, closed)
		return nc, nil
	}

	nc, err := connect("membership")
	if err != nil {
		return nil, err
	}
	if s.membership, err = membership.Start(ctx, nc, membership.Config{OpenRooms: cfg.OpenRooms, Metrics: cfg.Metrics}, log.With(slog.String("service", "membership")), tp.Membership); err != nil {
		return nil, err
	}
	if nc, err = connect("presence"); err != nil {
		return nil, err
	}
	if s.presence, err = presence.Start(ctx, nc, presence.Config{Metrics: cfg.Metrics}, log.With(slog.String("service", "presence")), tp.Presence); err != nil {
		return nil, err
	}
	// The gateway connects over loopback TCP: the in-process connection is
	// a synchronous pipe, which every message to it from other gateways
	// would cross one at a time (two gateways relayed 28k signals/s through
	// it, 60k over TCP).
	if nc, err = connect("gateway", append(gateway.NATSOptions(), overTCP)...); err != nil {
		return nil, err
	}
	gcfg := cfg.Gateway
	gcfg.HTTPAddr, gcfg.JWTSecret, gcfg.GatewayID = cfg.HTTPAddr, cfg.JWTSecret, cfg.GatewayID
	gcfg.Metrics = cfg.Metrics
	if s.Gateway, err = gateway.New(nc, gcfg, log.With(slog.String("service", "gateway")), tp.Gateway); err != nil {
		return nil, err
	}
	return s, nil
}

// overTCP makes a connection to the embedded server use its listener.
func overTCP(o *nats.Options) error {
	o.InProcessServer = nil
	return nil
}

// Stop stops the services and the server, in order: gateway (if still
// running), micro services, NATS connections, server.
func (s *System) Stop() error {
	var errs []error
	if s.Gateway != nil {
		errs = append(errs, s.Gateway.Shutdown(context.Background()))
	}
	if s.presence != nil {
		errs = append(errs, s.presence.Stop())
	}
	if s.membership != nil {
		errs = append(errs, s.membership.Stop())
	}
	for i, nc := range s.conns {
		if err := nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, err)
		}
		select {
		case <-s.closed[i]:
		case <-time.After(5 * time.Second):
			nc.Close()
		}
	}
	s.NATS.Shutdown()
	s.NATS.WaitForShutdown()
	return errors.Join(errs...)
}
