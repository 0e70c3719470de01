package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"

	"github.com/switchboard-rtc/switchboard/services/gateway/internal/dyson"
	"github.com/switchboard-rtc/switchboard/services/gateway/internal/native"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

// dialect is the wire protocol a connection speaks.
type dialect int

const (
	dialectNative dialect = iota
	dialectDyson
)

func (d dialect) String() string {
	if d == dialectDyson {
		return contract.DialectDyson
	}
	return contract.DialectNative
}

// readLimit bounds one client frame: 64 KiB of data plus room for the
// envelope. A larger frame closes the connection with 1009.
const readLimit = native.MaxData + 8<<10

// conn is one client WebSocket in one room.
type conn struct {
	g       *Gateway
	ws      *websocket.Conn
	dialect dialect
	self    contract.Participant
	roomID  string
	header  nats.Header // trace context of the connect, on everything published
	limiter *rate.Limiter

	send   chan []byte   // drained by writeLoop
	done   chan struct{} // closed by kill
	closed chan struct{} // closed when the socket is closed
	once   sync.Once

	// Guarded by room.mu.
	joining bool
	pending []any // *contract.PresenceEvent or *contract.Signal, while joining
	view    map[string]known
	users   map[string]int // connections per user id in view
	joinRev uint64         // presence revision of this connection's join
}

func (g *Gateway) newConn(ws *websocket.Conn, d dialect, roomID string, user contract.User, ctx context.Context) *conn {
	ws.SetReadLimit(readLimit)
	return &conn{
		g:       g,
		ws:      ws,
		dialect: d,
		roomID:  roomID,
		self: contract.Participant{
			ConnectionID: "c_" + randomID(16),
			User:         user,
			GatewayID:    g.id,
			JoinedAt:     time.Now().UTC(),
		},
		header:  telemetry.Header(ctx),
		limiter: rate.NewLimiter(rate.Limit(g.cfg.RatePerSecond), g.cfg.RateBurst),
		send:    make(chan []byte, g.cfg.SendQueue),
		done:    make(chan struct{}),
		closed:  make(chan struct{}),
	}
}

func (c *conn) id() string { return c.self.ConnectionID }

// enqueue queues a frame without blocking. A client that cannot keep up is
// closed with 1008 rather than allowed to stall its room.
func (c *conn) enqueue(frame []byte) {
	select {
	case c.send <- frame:
	default:
		c.kill(websocket.StatusPolicyViolation, "slow consumer")
	}
}

// kill closes the socket with code, once; later calls do nothing.
func (c *conn) kill(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		close(c.done)
		go func() {
			_ = c.ws.Close(code, reason)
			close(c.closed)
		}()
	})
}

// writeLoop is the one goroutine that writes to the socket.
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.done:
			return
		case f := <-c.send:
			ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, f)
			cancel()
			if err != nil {
				c.kill(websocket.StatusPolicyViolation, "write timed out")
				return
			}
		}
	}
}

// serveConn registers c in its room, sends the welcome, relays the client's
// frames until it goes, and then takes it out of the room and presence.
func (g *Gateway) serveConn(ctx context.Context, c *conn, joined func()) {
	// Registering and the draining check share the lock Shutdown takes to
	// start draining, so no connection slips past its close list.
	g.connsMu.Lock()
	if g.draining.Load() {
		g.connsMu.Unlock()
		c.ws.Close(websocket.StatusGoingAway, "server going away")
		return
	}
	g.conns[c] = struct{}{}
	g.handlers.Add(1)
	g.connsMu.Unlock()
	defer g.handlers.Done()
	defer func() {
		g.connsMu.Lock()
		delete(g.conns, c)
		g.connsMu.Unlock()
	}()
	go c.writeLoop()
	go c.pingLoop()
	defer func() { <-c.closed }()

	r, err := g.hub.acquire(ctx, c.roomID)
	if err != nil {
		g.log.Error("room subscription failed", slog.String("room_id", c.roomID), slog.Any("err", err))
		c.kill(websocket.StatusInternalError, "internal error")
		return
	}
	defer g.hub.release(r)
	jctx, cancel := context.WithTimeout(ctx, g.cfg.JoinTimeout)
	err = r.join(jctx, c)
	cancel()
	if err != nil {
		g.log.Error("presence join failed", slog.String("room_id", c.roomID), slog.Any("err", err))
		c.kill(websocket.StatusInternalError, "presence unavailable")
		// The join may have been stored after all (a reply lost or too
		// late): take it back, or it would stay while this lease lives.
		g.leave(c)
		return
	}
	g.joins.Add(1)
	joined()

	c.readLoop(r)
	c.kill(websocket.StatusNormalClosure, "")
	r.remove(c)
	g.leave(c)
}

// pingLoop pings the client now and then, so that one that vanished without
// closing (a dead network, a sleeping laptop) leaves the room.
func (c *conn) pingLoop() {
	t := time.NewTicker(c.g.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.WriteTimeout)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			c.kill(websocket.StatusPolicyViolation, "no answer to ping")
			return
		}
	}
}

// readLoop reads client frames until the socket closes. A client that goes
// on sending after a full burst of rate_limited errors is closed with 1008.
func (c *conn) readLoop(r *room) {
	limited := 0
	for {
		typ, frame, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			c.refuse(native.CodeBadRequest, "binary frames are not supported", "")
			continue
		}
		if !c.limiter.Allow() {
			if limited++; limited > c.g.cfg.RateBurst {
				c.kill(websocket.StatusPolicyViolation, "rate limit exceeded")
				return
			}
			c.refuse(native.CodeRateLimited, "too many frames, slow down", "")
			continue
		}
		limited = 0
		c.handle(r, frame)
	}
}

// refuse sends an error packet in the connection's dialect.
func (c *conn) refuse(code, message, ref string) {
	if c.dialect == dialectDyson {
		c.enqueue(dyson.ErrorPacket(message))
		return
	}
	c.enqueue(native.ErrorPacket(&native.Error{Code: code, Message: message, Ref: ref}))
}

// handle relays one client frame.
func (c *conn) handle(r *room, frame []byte) {
	sig := contract.Signal{
		RoomID:  c.roomID,
		From:    contract.Sender{ConnectionID: c.id(), User: c.self.User, GatewayID: c.g.id},
		Dialect: c.dialect.String(),
	}
	var ref string
	if c.dialect == dialectDyson {
		s, why := dyson.Parse(frame)
		if why != "" {
			c.refuse("", why, "")
			return
		}
		sig.Kind, sig.Data, sig.ToUser = s.Kind, s.Data, s.To
	} else {
		s, perr := native.Parse(frame)
		if perr != nil {
			c.enqueue(native.ErrorPacket(perr))
			return
		}
		sig.Data, sig.To, sig.ToUser, ref = s.Data, s.To, s.ToUser, s.Ref
		if s.To != "" && !r.knows(c, s.To) {
			c.refuse(native.CodeUnknownTarget, "no connection "+s.To+" in this room", ref)
			return
		}
	}
	data, err := sig.Encode()
	if err == nil {
		err = c.g.nc.PublishMsg(&nats.Msg{Subject: r.signalSubject, Data: data, Header: c.header})
	}
	if err != nil {
		c.g.log.Error("publish signal", slog.String("subject", r.signalSubject), slog.Any("err", err))
		c.kill(websocket.StatusInternalError, "internal error")
	}
}

// leave tells presence that c has gone. If presence cannot be reached, it
// keeps trying in the background; should the gateway die first, its lease
// runs out and presence removes c all the same.
func (g *Gateway) leave(c *conn) {
	req := contract.LeaveRequest{RoomID: c.roomID, ConnectionID: c.id(), Reason: contract.ReasonClosed}
	try := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return rpc.Call(telemetry.Extract(ctx, c.header), g.nc, subject.PresenceLeave, req, nil)
	}
	if try(context.Background()) == nil {
		return
	}
	g.background.Add(1)
	go func() {
		defer g.background.Done()
		for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
			select {
			case <-g.ctx.Done():
				return
			case <-time.After(wait):
			}
			err := try(g.ctx)
			if err == nil || errors.Is(err, context.Canceled) {
				return
			}
			g.log.Warn("presence leave failed, will retry", slog.String("connection_id", c.id()), slog.Any("err", err))
		}
	}()
}

// sortParticipants orders participants by join time, then id.
func sortParticipants(ps []contract.Participant) {
	sort.Slice(ps, func(i, j int) bool {
		if !ps[i].JoinedAt.Equal(ps[j].JoinedAt) {
			return ps[i].JoinedAt.Before(ps[j].JoinedAt)
		}
		return ps[i].ConnectionID < ps[j].ConnectionID
	})
}
