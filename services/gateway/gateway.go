package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/shared/auth"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// Gateway serves client WebSockets. Create it with New, serve Handler, and
// end it with Shutdown.
type Gateway struct {
	cfg      Config
	nc       *nats.Conn
	log      *slog.Logger
	tracer   trace.Tracer
	verifier *auth.Verifier
	id       string // gateway id, shown in presence
	lease    string // this process's presence lease, new on every start

	hub *hub
	m   *metrics

	draining atomic.Bool
	joins    atomic.Int64 // successful presence joins, for lease-loss detection

	connsMu  sync.Mutex
	conns    map[*conn]struct{}
	handlers sync.WaitGroup

	ctx          context.Context // done when the gateway stops
	stop         context.CancelFunc
	background   sync.WaitGroup
	bgMu         sync.Mutex
	bgStopped    bool // guarded by bgMu: no more background goroutines
	shutdownOnce sync.Once
	readyMu      sync.Mutex
	readyAt      time.Time // last time membership answered a ping
}

// New returns a gateway that uses nc for everything it says over NATS, and
// starts renewing its presence lease.
func New(nc *nats.Conn, cfg Config, log *slog.Logger, tp trace.TracerProvider) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	v, err := auth.NewVerifier(cfg.JWTSecret)
	if err != nil {
		return nil, err
	}
	if cfg.GatewayID == "" {
		cfg.GatewayID = "gw_" + randomID(8)
	}
	ctx, stop := context.WithCancel(context.Background())
	g := &Gateway{
		cfg:      cfg,
		nc:       nc,
		log:      log.With(slog.String("gateway_id", cfg.GatewayID)),
		tracer:   tp.Tracer("switchboard/gateway"),
		verifier: v,
		id:       cfg.GatewayID,
		lease:    randomID(12),
		conns:    map[*conn]struct{}{},
		ctx:      ctx,
		stop:     stop,
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	g.m = newMetrics(reg, func() float64 { return float64(nc.Stats().Reconnects) })
	g.hub = newHub(g, runtime.GOMAXPROCS(0))
	g.background.Add(3 + len(g.hub.shards))
	for _, shard := range g.hub.shards {
		go g.hub.dispatch(ctx, shard)
	}
	go g.heartbeat(ctx)
	go g.resyncLoop(ctx)
	go g.sweeper(ctx)
	return g, nil
}

// NATSOptions are the options a gateway's NATS connection should have.
// NoEcho: a gateway delivers its own signals to its local connections as it
// sends them, so NATS need not bring them back (a connection without it
// still works: the gateway recognizes and drops its own).
func NATSOptions() []nats.Option { return []nats.Option{nats.NoEcho()} }

// ID returns the gateway's id, as presence shows it.
func (g *Gateway) ID() string { return g.id }

// randomID returns n random bytes in base64url: valid in NATS subject tokens
// and room-id rules, and unique for all practical purposes.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// heartbeat renews the lease every HeartbeatInterval. If presence says the
// lease had run out after connections were registered under it, those
// connections are no longer in presence: close them so clients reconnect
// and are registered again.
func (g *Gateway) heartbeat(ctx context.Context) {
	defer g.background.Done()
	t := time.NewTicker(g.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		joinsBefore := g.joins.Load()
		rctx, cancel := context.WithTimeout(ctx, g.cfg.HeartbeatInterval)
		rctx, span := g.tracer.Start(rctx, "gateway.heartbeat")
		var rep contract.HeartbeatReply
		err := rpc.Call(rctx, g.nc, subject.PresenceHeartbeat, contract.HeartbeatRequest{GatewayID: g.id, Lease: g.lease}, &rep)
		span.End()
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			g.log.Warn("presence heartbeat failed", slog.Any("err", err))
		case !rep.Renewed && joinsBefore > 0:
			g.log.Error("presence lease was lost; closing connections so clients reconnect")
			for _, c := range g.liveConns() {
				c.kill(websocket.StatusGoingAway, reasonPresenceLost)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweeper pings connections when due and cuts stuck writes: one goroutine
// and one ticker for the whole gateway rather than per connection.
func (g *Gateway) sweeper(ctx context.Context) {
	defer g.background.Done()
	t := time.NewTicker(g.cfg.tick())
	defer t.Stop()
	var cs []*conn
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cs = g.appendConns(cs[:0])
			for _, c := range cs {
				c.sweep(now)
			}
			clear(cs)
		}
	}
}

func (g *Gateway) liveConns() []*conn { return g.appendConns(nil) }

func (g *Gateway) appendConns(cs []*conn) []*conn {
	g.connsMu.Lock()
	defer g.connsMu.Unlock()
	for c := range g.conns {
		cs = append(cs, c)
	}
	return cs
}

// Ready reports whether NATS is connected and membership answers. A
// successful ping is trusted for one second.
func (g *Gateway) Ready(ctx context.Context) error {
	if !g.nc.IsConnected() {
		return errors.New("NATS is not connected")
	}
	g.readyMu.Lock()
	fresh := time.Since(g.readyAt) < time.Second
	g.readyMu.Unlock()
	if fresh {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := g.nc.RequestWithContext(ctx, subject.ServicePing(subject.MembershipService), nil); err != nil {
		return fmt.Errorf("membership does not answer: %w", err)
	}
	g.readyMu.Lock()
	g.readyAt = time.Now()
	g.readyMu.Unlock()
	return nil
}

// Shutdown stops accepting connections, closes every socket with 1001
// (spread over CloseSpread so clients do not all reconnect at once), waits
// for their leaves to reach presence, and stops the lease. Call it after (or
// while) the HTTP server stops listening; it does not close nc.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var err error
	g.shutdownOnce.Do(func() {
		g.connsMu.Lock()
		g.draining.Store(true)
		g.connsMu.Unlock()
		cs := g.liveConns()
		for i, c := range cs {
			delay := g.cfg.CloseSpread * time.Duration(i) / time.Duration(len(cs))
			time.AfterFunc(delay, func() { c.kill(websocket.StatusGoingAway, reasonShutdown) })
		}
		done := make(chan struct{})
		go func() { g.handlers.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			err = fmt.Errorf("gateway shutdown: %w", ctx.Err())
		}
		g.stop()
		g.bgMu.Lock()
		g.bgStopped = true
		g.bgMu.Unlock()
		g.background.Wait()
	})
	return err
}

// goBackground runs f in a goroutine that Shutdown waits for, unless
// Shutdown has begun waiting (f is then not run: its context is done).
func (g *Gateway) goBackground(f func()) {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.bgStopped {
		return
	}
	g.background.Add(1)
	go func() {
		defer g.background.Done()
		f()
	}()
}
