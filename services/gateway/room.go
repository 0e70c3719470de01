package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/switchboard-rtc/switchboard/services/gateway/internal/dyson"
	"github.com/switchboard-rtc/switchboard/services/gateway/internal/native"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// hub holds the rooms this gateway has local connections in.
type hub struct {
	g *Gateway

	mu    sync.Mutex
	rooms map[string]*room
}

// room is one room as seen by this gateway: its NATS subscriptions and its
// local connections.
//
// Exactly-once discovery: a connection subscribes (through its room) before
// it registers with presence, presence orders changes per room, and its
// join reply lists everyone registered before it. Every later change reaches
// the subscription. Each connection keeps the set of participants it has
// been told about (its view): a joined event for someone already in the view
// is dropped, and so is a left for someone who is not. Events from different
// presence instances may arrive out of order; a left that overtakes its
// joined leaves a tombstone (gone) so the late joined is dropped too.
type room struct {
	id              string
	signalSubject   string
	presenceSubject string

	refs  int           // guarded by hub.mu
	ready chan struct{} // closed once subscribed (or failed)
	err   error         // set before ready is closed
	subs  []*nats.Subscription

	mu    sync.Mutex
	conns map[string]*conn
	gone  map[string]time.Time // connection ids that have left
}

// acquire returns the room, subscribed, counting one more user of it.
func (h *hub) acquire(ctx context.Context, id string) (*room, error) {
	h.mu.Lock()
	r, ok := h.rooms[id]
	if !ok {
		r = &room{id: id, ready: make(chan struct{}), conns: map[string]*conn{}, gone: map[string]time.Time{}}
		h.rooms[id] = r
	}
	r.refs++
	h.mu.Unlock()

	if !ok {
		r.err = r.subscribe(h.g)
		close(r.ready)
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		h.release(r)
		return nil, ctx.Err()
	}
	if r.err != nil {
		h.release(r)
		return nil, r.err
	}
	return r, nil
}

// release drops one user of r; the last one unsubscribes.
func (h *hub) release(r *room) {
	h.mu.Lock()
	r.refs--
	last := r.refs == 0
	if last {
		delete(h.rooms, r.id)
	}
	h.mu.Unlock()
	if !last {
		return
	}
	<-r.ready
	for _, s := range r.subs {
		if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			h.g.log.Warn("unsubscribe", slog.String("subject", s.Subject), slog.Any("err", err))
		}
	}
}

func (r *room) subscribe(g *Gateway) error {
	var err error
	if r.signalSubject, err = subject.RoomSignal(r.id); err != nil {
		return err
	}
	if r.presenceSubject, err = subject.RoomPresence(r.id); err != nil {
		return err
	}
	sig, err := g.nc.Subscribe(r.signalSubject, func(m *nats.Msg) { r.onSignal(g, m) })
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", r.signalSubject, err)
	}
	r.subs = append(r.subs, sig)
	pres, err := g.nc.Subscribe(r.presenceSubject, func(m *nats.Msg) { r.onPresence(g, m) })
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", r.presenceSubject, err)
	}
	r.subs = append(r.subs, pres)
	// The server must know of both subscriptions before presence hears of
	// the join, or an event could slip past.
	if err := g.nc.Flush(); err != nil {
		return fmt.Errorf("subscribe room %s: %w", r.id, err)
	}
	return nil
}

// join registers c with presence and sends its welcome.
func (r *room) join(ctx context.Context, c *conn) error {
	r.mu.Lock()
	c.joining = true
	r.conns[c.id()] = c
	r.mu.Unlock()

	var rep contract.JoinReply
	err := rpc.Call(ctx, c.g.nc, subject.PresenceJoin,
		contract.JoinRequest{RoomID: r.id, Participant: c.self, Lease: c.g.lease}, &rep)
	if err != nil {
		r.remove(c)
		return err
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	c.view = make(map[string]known, len(rep.Participants))
	c.users = map[string]int{}
	c.joinRev = rep.Revision
	for _, p := range rep.Participants {
		if _, left := r.gone[p.ConnectionID]; !left && p.ConnectionID != c.id() {
			c.learn(p, rep.Revision, false)
		}
	}
	var signals []*contract.Signal
	for _, ev := range c.pending {
		switch ev := ev.(type) {
		case *contract.PresenceEvent:
			r.apply(c, ev, false)
		case *contract.Signal:
			signals = append(signals, ev)
		}
	}
	c.joining, c.pending = false, nil

	others := make([]contract.Participant, 0, len(c.view))
	for _, k := range c.view {
		others = append(others, k.p)
	}
	sortParticipants(others)
	if c.dialect == dialectDyson {
		c.enqueue(dyson.Welcome(r.id, c.self.User, others, time.Now()))
	} else {
		c.enqueue(native.Welcome(c.id(), r.id, c.self.User, others))
	}
	for _, s := range signals {
		c.enqueue(render(c, s, nil))
	}
	return nil
}

// remove takes c out of the room's local fan-out.
func (r *room) remove(c *conn) {
	r.mu.Lock()
	delete(r.conns, c.id())
	r.mu.Unlock()
}

// knows reports whether c has been told about connection id.
func (r *room) knows(c *conn, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := c.view[id]
	return ok
}

// onSignal fans a relayed signal out to the local connections it is for.
func (r *room) onSignal(g *Gateway, m *nats.Msg) {
	var s contract.Signal
	if err := json.Unmarshal(m.Data, &s); err != nil || s.RoomID != r.id || s.From.ConnectionID == "" {
		g.log.Warn("dropped a malformed signal", slog.String("subject", m.Subject), slog.Any("err", err))
		return
	}
	if len(s.Data) == 0 {
		s.Data = json.RawMessage("null") // a publisher that left data out
	}
	var cache rendered
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.To != "" {
		if c := r.conns[s.To]; c != nil {
			r.deliver(c, &s, &cache)
		}
		return
	}
	for _, c := range r.conns {
		if s.ToUser == "" || c.self.User.ID == s.ToUser {
			r.deliver(c, &s, &cache)
		}
	}
}

func (r *room) deliver(c *conn, s *contract.Signal, cache *rendered) {
	switch {
	case c.id() == s.From.ConnectionID:
	case c.joining:
		c.pending = append(c.pending, s)
	default:
		c.enqueue(render(c, s, cache))
	}
}

// rendered caches a signal's frame per dialect during one fan-out.
type rendered struct{ native, dyson []byte }

func render(c *conn, s *contract.Signal, cache *rendered) []byte {
	if cache == nil {
		cache = &rendered{}
	}
	switch {
	case c.dialect == dialectNative:
		if cache.native == nil {
			cache.native = native.RenderSignal(s)
		}
		return cache.native
	case s.To != "":
		// Dyson echoes the receiving account as "to": one receiver, no cache.
		return dyson.RenderSignal(s, c.self.User.ID)
	default:
		if cache.dyson == nil {
			cache.dyson = dyson.RenderSignal(s, "")
		}
		return cache.dyson
	}
}

// tombstoneTTL is how long a left connection id is remembered, to drop a
// joined event that arrives after its left. Far longer than any reordering.
const tombstoneTTL = 5 * time.Minute

// onPresence applies a joined or left event to every local connection.
func (r *room) onPresence(g *Gateway, m *nats.Msg) {
	var ev contract.PresenceEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Participant.ConnectionID == "" ||
		(ev.Event != contract.EventJoined && ev.Event != contract.EventLeft) {
		g.log.Warn("dropped a malformed presence event", slog.String("subject", m.Subject), slog.Any("err", err))
		return
	}
	id := ev.Participant.ConnectionID
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev.Event == contract.EventLeft {
		if len(r.gone) > 1024 {
			for k, at := range r.gone {
				if now.Sub(at) > tombstoneTTL {
					delete(r.gone, k)
				}
			}
		}
		r.gone[id] = now
	}
	if c := r.conns[id]; c != nil && ev.Event == contract.EventLeft {
		// Presence removed a connection that is still open here. Nobody
		// else sees it any more, so close it: a kicked client must stay
		// out; any other (its lease was declared lost) should reconnect
		// and register again.
		if ev.Reason == contract.ReasonKicked {
			c.kill(websocket.StatusPolicyViolation, "removed from the room")
		} else {
			c.kill(websocket.StatusGoingAway, "presence lost, reconnect")
		}
	}
	for _, c := range r.conns {
		if c.joining {
			c.pending = append(c.pending, &ev)
			continue
		}
		r.apply(c, &ev, true)
	}
}

// apply updates c's view with ev and, if notify, tells the client.
func (r *room) apply(c *conn, ev *contract.PresenceEvent, notify bool) {
	p := ev.Participant
	switch {
	case p.ConnectionID == c.id():
	case ev.Event == contract.EventJoined:
		// A join stored before c's own is in c's snapshot already, or has
		// left since: either way, nothing to tell.
		stale := ev.Revision != 0 && ev.Revision < c.joinRev
		if _, left := r.gone[p.ConnectionID]; !left && !stale {
			c.learn(p, ev.Revision, notify)
		}
	case ev.Event == contract.EventLeft:
		c.forget(p.ConnectionID, ev.Reason, notify)
	}
}
