package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

// readLimit bounds one client frame: 64 KiB of data plus room for the
// envelope. A larger frame closes the connection with 1009.
const readLimit = dialect.MaxData + 8<<10

// conn is one client WebSocket in one room.
//
// Its HTTP handler goroutine reads. Frames to the client go through a queue
// bounded in bytes; a writer goroutine runs only while the queue has
// frames, so an idle connection costs one goroutine. Pings and stuck-write
// checks come from the gateway's sweeper, not from a goroutine per
// connection.
type conn struct {
	g       *Gateway
	ws      *websocket.Conn
	d       dialect.Dialect
	dix     int // d's index in the gateway's dialects, for render caches
	m       *dialectMetrics
	self    contract.Participant
	roomID  string
	header  nats.Header // trace context of the connect, on everything published
	sender  contract.Sender
	prefix  []byte // the fixed start of this connection's signal payloads
	frames  *rate.Limiter
	bytes   *rate.Limiter // nil when off
	cork    *cork         // nil when the socket is written directly
	limited int           // refusals in a row, read loop only

	mu      sync.Mutex
	queue   [][]byte // frames waiting for the writer
	spare   [][]byte // the writer's last batch, reused
	queued  int      // bytes in queue
	writing bool     // a writer goroutine runs
	dead    bool     // killed: queue no more
	joining bool     // frames go to pending until the welcome is queued
	pending [][]byte

	writeSince atomic.Int64 // unix nanos a write began, 0 when none
	pingAt     time.Time    // next ping due; sweeper only

	done   chan struct{} // closed by kill
	closed chan struct{} // closed when the socket is closed
	once   sync.Once

	// Guarded by room.mu.
	welcomed bool   // the welcome is queued: presence changes are told
	joinRev  uint64 // presence revision of this connection's join
}

func (g *Gateway) newConn(ws *websocket.Conn, dix int, roomID string, user contract.User, ctx context.Context) *conn {
	d := dialects[dix]
	ws.SetReadLimit(readLimit)
	c := &conn{
		g:      g,
		ws:     ws,
		d:      d,
		dix:    dix,
		m:      &g.m.dialects[dix],
		roomID: roomID,
		self: contract.Participant{
			ConnectionID: "c_" + randomID(16),
			User:         user,
			GatewayID:    g.id,
			JoinedAt:     time.Now().UTC(),
		},
		header:  sampledHeader(ctx),
		joining: true,
		pingAt:  time.Now().Add(g.cfg.PingInterval),
		done:    make(chan struct{}),
		closed:  make(chan struct{}),
	}
	c.sender = contract.Sender{ConnectionID: c.id(), User: user, GatewayID: g.id}
	c.prefix = contract.SignalPrefix(roomID, c.sender, d.Name())
	c.frames = rate.NewLimiter(limitOf(g.cfg.RatePerSecond), g.cfg.RateBurst)
	if g.cfg.BytesPerSecond > 0 {
		c.bytes = rate.NewLimiter(rate.Limit(g.cfg.BytesPerSecond), int(min(2*g.cfg.BytesPerSecond, 1<<40)))
	}
	return c
}

// sampledHeader returns the trace context of the connect for the
// connection's messages, or nil when the connect is not sampled: an
// unsampled trace is recorded nowhere, and a header on every signal would
// cost its encoding here and its parsing in the NATS server and in every
// receiving gateway.
func sampledHeader(ctx context.Context) nats.Header {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return nil
	}
	return telemetry.Header(ctx)
}

func limitOf(perSecond float64) rate.Limit {
	if perSecond < 0 {
		return rate.Inf
	}
	return rate.Limit(perSecond)
}

func (c *conn) id() string { return c.self.ConnectionID }

// send queues a frame without blocking. A client that cannot keep up (its
// queue holds more than SendQueueBytes) is closed with 1008 rather than
// allowed to stall its room.
func (c *conn) send(frame []byte) {
	c.mu.Lock()
	switch {
	case c.dead:
		c.mu.Unlock()
		return
	case c.joining:
		c.pending = append(c.pending, frame)
		c.mu.Unlock()
		return
	}
	if !c.push(frame) {
		c.mu.Unlock()
		c.cut(reasonSlowConsumer)
		return
	}
	c.mu.Unlock()
}

// push queues frame and starts a writer if none runs. The caller holds
// c.mu. It reports false when the queue is full.
func (c *conn) push(frame []byte) bool {
	if c.queued+len(frame) > c.g.cfg.SendQueueBytes && c.queued > 0 {
		return false
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	if !c.writing {
		c.writing = true
		go c.write()
	}
	return true
}

// keptQueue bounds the queue slices a connection keeps for reuse.
const keptQueue = 64

// welcome queues the welcome and then the frames that arrived while the
// connection was joining, and ends the joining state.
func (c *conn) welcome(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return
	}
	ok := c.push(frame)
	for _, f := range c.pending {
		ok = ok && c.push(f)
	}
	c.joining, c.pending = false, nil
	if !ok {
		go c.cut(reasonSlowConsumer)
	}
}

// write is the writer: it drains the queue in batches and exits when the
// queue is empty. Writes carry no context (a context per write costs more
// than the frame); the sweeper closes a socket whose write is stuck.
func (c *conn) write() {
	for {
		c.mu.Lock()
		batch := c.queue
		if len(batch) == 0 || c.dead {
			c.writing = false
			if cap(c.queue) > keptQueue {
				c.queue = nil // a burst's slice is not kept by an idle connection
			}
			c.mu.Unlock()
			return
		}
		c.queue, c.spare, c.queued = c.spare[:0], nil, 0
		c.mu.Unlock()

		c.writeSince.Store(time.Now().UnixNano())
		err := c.writeBatch(batch)
		c.writeSince.Store(0)
		if err != nil {
			c.kill(websocket.StatusPolicyViolation, reasonWriteFailed)
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			return
		}
		clear(batch)
		c.mu.Lock()
		if c.spare == nil && cap(batch) <= keptQueue {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
	}
}

// writeBatch writes frames corked, so that they leave in one system call
// (one frame too: the write buffer is smaller than most frames).
func (c *conn) writeBatch(batch [][]byte) error {
	corked := c.cork != nil
	if corked {
		_ = c.cork.setCorked(true) // corking writes nothing
	}
	for _, f := range batch {
		if err := c.ws.Write(context.Background(), websocket.MessageText, f); err != nil {
			if corked {
				_ = c.cork.setCorked(false)
			}
			return err
		}
	}
	if corked {
		return c.cork.setCorked(false)
	}
	return nil
}

// kill closes the socket with code, once; later calls do nothing.
func (c *conn) kill(code websocket.StatusCode, reason string) { c.end(code, reason, false) }

// cut closes a socket whose client has stopped reading: its send buffers
// are full, so a close frame could not get through, and waiting for one
// would only hold the connection (and its room's view of it) open.
func (c *conn) cut(reason string) { c.end(websocket.StatusPolicyViolation, reason, true) }

func (c *conn) end(code websocket.StatusCode, reason string, now bool) {
	c.once.Do(func() {
		why := hangup(reason)
		c.g.m.disconnects.WithLabelValues(why).Inc()
		if why != "closed" && why != "shutdown" {
			c.g.log.Info("connection closed by the gateway", slog.String("connection_id", c.id()),
				slog.String("room_id", c.roomID), slog.String("reason", why), slog.String("detail", reason))
		}
		c.mu.Lock()
		c.dead = true
		c.queue, c.pending, c.spare, c.queued = nil, nil, nil, 0
		c.mu.Unlock()
		close(c.done)
		go func() {
			if now {
				_ = c.ws.CloseNow()
			} else {
				_ = c.ws.Close(code, reason)
			}
			close(c.closed)
		}()
	})
}

// sweep is called by the gateway's sweeper: it pings the client when one
// is due, and cuts a socket whose write has been stuck for WriteTimeout.
func (c *conn) sweep(now time.Time) {
	if at := c.writeSince.Load(); at != 0 && now.Sub(time.Unix(0, at)) > c.g.cfg.WriteTimeout {
		c.cut(reasonWriteTimedOut)
		_ = c.ws.CloseNow() // it may have been killed before, waiting on the write
		return
	}
	if now.Before(c.pingAt) {
		return
	}
	c.pingAt = now.Add(c.g.cfg.PingInterval)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.WriteTimeout)
		defer cancel()
		if err := c.ws.Ping(ctx); err != nil {
			c.kill(websocket.StatusPolicyViolation, reasonNoPong)
		}
	}()
}

// serveConn registers c in its room and sends the welcome; then a
// goroutine of its own (serve) relays the client's frames until it goes.
// The connect span ends at the welcome or when the join fails.
func (g *Gateway) serveConn(ctx context.Context, c *conn, span trace.Span, start time.Time) {
	defer span.End()
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
	c.m.connections.Inc()

	r, err := g.hub.acquire(ctx, c.roomID)
	if err != nil {
		g.log.ErrorContext(ctx, "room subscription failed", slog.String("room_id", c.roomID), slog.Any("err", err))
		c.kill(websocket.StatusInternalError, reasonInternal)
		g.unregister(c)
		return
	}
	jctx, cancel := context.WithTimeout(ctx, g.cfg.JoinTimeout)
	err = r.join(jctx, c)
	cancel()
	if err != nil {
		g.log.ErrorContext(ctx, "presence join failed", slog.String("room_id", c.roomID), slog.Any("err", err))
		c.kill(websocket.StatusInternalError, reasonNoPresence)
		// The join may have been stored after all (a reply lost or too
		// late): take it back, or it would stay while this lease lives.
		g.leave(c)
		g.hub.release(r)
		g.unregister(c)
		return
	}
	g.joins.Add(1)
	c.m.join.Observe(time.Since(start).Seconds())
	g.m.admissions.WithLabelValues(c.d.Name(), "ok").Inc()
	// Joining grew this goroutine's stack (JSON, NATS requests, tracing);
	// the connection's long life starts on a fresh, small one that holds
	// nothing of the connect.
	go c.serve(r)
}

// serve relays the client's frames until it goes, then takes it out of the
// room and presence.
func (c *conn) serve(r *room) {
	c.readLoop(r)
	c.kill(websocket.StatusNormalClosure, "")
	r.remove(c)
	c.g.leave(c)
	c.g.hub.release(r)
	c.g.unregister(c)
}

// unregister waits for c's socket to close and forgets c.
func (g *Gateway) unregister(c *conn) {
	<-c.closed
	g.connsMu.Lock()
	delete(g.conns, c)
	g.connsMu.Unlock()
	c.m.connections.Dec()
	g.handlers.Done()
}

// bufs holds read buffers: a connection takes one only while a frame is
// arriving, so idle connections hold none.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// readLoop reads client frames until the socket closes.
func (c *conn) readLoop(r *room) {
	for {
		typ, rd, err := c.ws.Reader(context.Background())
		if err != nil {
			return
		}
		bp := bufs.Get().(*[]byte)
		frame, err := readAll(rd, (*bp)[:0])
		if err == nil {
			c.frame(r, typ, frame)
		}
		if cap(frame) <= 128<<10 {
			*bp = frame[:0]
			bufs.Put(bp)
		}
		if errors.Is(err, websocket.ErrMessageTooBig) {
			// The library has closed the socket with 1009 already.
			c.kill(websocket.StatusMessageTooBig, reasonTooBig)
		}
		if err != nil {
			return
		}
	}
}

// readAll appends what r holds to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// frame handles one client frame: limits, then the dialect's parse, then
// the relay. A client that goes on sending after a full burst of
// rate_limited errors is closed with 1008.
func (c *conn) frame(r *room, typ websocket.MessageType, frame []byte) {
	if typ != websocket.MessageText {
		c.refuse(&dialect.Error{Code: dialect.CodeBadRequest, Message: "binary frames are not supported"})
		return
	}
	now := time.Now()
	if !c.frames.AllowN(now, 1) || c.bytes != nil && !c.bytes.AllowN(now, len(frame)) {
		if c.limited++; c.limited > c.g.cfg.RateBurst {
			c.kill(websocket.StatusPolicyViolation, reasonRateLimit)
			return
		}
		c.refuse(&dialect.Error{Code: dialect.CodeRateLimited, Message: "too many frames or bytes, slow down"})
		return
	}
	c.limited = 0
	s, perr := c.d.Parse(frame)
	if perr != nil {
		c.refuse(perr)
		return
	}
	c.m.received.Inc()
	if s.To != "" && (s.To == c.id() || !r.knows(s.To)) {
		c.refuse(&dialect.Error{Code: dialect.CodeUnknownTarget, Message: "no connection " + s.To + " in this room", Ref: s.Ref})
		return
	}
	// Local receivers get it straight away; NATS carries it to the other
	// gateways (and to anyone else listening on the room's subject).
	r.fanout(r.members.Load(), &contract.Signal{
		RoomID: c.roomID, From: c.sender, To: s.To, ToUser: s.ToUser,
		Dialect: c.d.Name(), Kind: s.Kind, Data: s.Data,
	})
	bp := bufs.Get().(*[]byte)
	payload := contract.AppendSignal((*bp)[:0], c.prefix, s.To, s.ToUser, s.Kind, s.Data)
	err := c.g.nc.PublishMsg(&nats.Msg{Subject: r.signalSubject, Data: payload, Header: c.header})
	*bp = payload[:0]
	bufs.Put(bp)
	if err != nil {
		c.g.log.Error("publish signal", slog.String("subject", r.signalSubject), slog.Any("err", err))
		c.kill(websocket.StatusInternalError, reasonInternal)
	}
}

// refuse sends an error frame in the connection's dialect.
func (c *conn) refuse(e *dialect.Error) {
	c.g.m.signalErrors.WithLabelValues(e.Code).Inc()
	c.send(c.d.Error(e))
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
	g.goBackground(func() {
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
	})
}
