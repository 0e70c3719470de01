package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

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
// Signals are fanned out from an immutable snapshot of the local
// connections (members), without the room's lock: a signal is decoded once,
// rendered once per dialect, and the same frame is queued to every
// receiver. Presence changes take the lock.
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
	g               *Gateway
	id              string
	signalSubject   string
	presenceSubject string

	refs  int           // guarded by hub.mu
	ready chan struct{} // closed once subscribed (or failed)
	err   error         // set before ready is closed
	subs  []*nats.Subscription

	members atomic.Pointer[members] // replaced under mu

	mu   sync.Mutex
	gone map[string]time.Time // connection ids that have left
}

// members is a snapshot of a room's local connections.
type members struct {
	list []*conn
	byID map[string]*conn
}

// acquire returns the room, subscribed, counting one more user of it.
func (h *hub) acquire(ctx context.Context, id string) (*room, error) {
	h.mu.Lock()
	r, ok := h.rooms[id]
	if !ok {
		r = &room{g: h.g, id: id, ready: make(chan struct{}), gone: map[string]time.Time{}}
		r.members.Store(&members{})
		h.rooms[id] = r
	}
	r.refs++
	h.mu.Unlock()

	if !ok {
		r.err = r.subscribe()
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

func (r *room) subscribe() error {
	g := r.g
	var err error
	if r.signalSubject, err = subject.RoomSignal(r.id); err != nil {
		return err
	}
	if r.presenceSubject, err = subject.RoomPresence(r.id); err != nil {
		return err
	}
	sig, err := g.nc.Subscribe(r.signalSubject, r.onSignal)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", r.signalSubject, err)
	}
	r.subs = append(r.subs, sig)
	pres, err := g.nc.Subscribe(r.presenceSubject, r.onPresence)
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

// setMembers replaces the snapshot with one edited by fn. The caller holds
// r.mu.
func (r *room) editMembers(add, remove *conn) {
	old := r.members.Load()
	m := &members{list: make([]*conn, 0, len(old.list)+1), byID: make(map[string]*conn, len(old.list)+1)}
	for _, c := range old.list {
		if c != remove {
			m.list = append(m.list, c)
			m.byID[c.id()] = c
		}
	}
	if add != nil {
		m.list = append(m.list, add)
		m.byID[add.id()] = add
	}
	r.members.Store(m)
}

// join registers c with presence and sends its welcome.
func (r *room) join(ctx context.Context, c *conn) error {
	r.mu.Lock()
	r.editMembers(c, nil)
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
	for _, ev := range c.events {
		r.apply(c, ev, false)
	}
	c.events = nil

	others := make([]contract.Participant, 0, len(c.view))
	for _, k := range c.view {
		others = append(others, k.p)
	}
	sortParticipants(others)
	c.welcome(c.d.Welcome(c.self, r.id, others))
	return nil
}

// remove takes c out of the room's local fan-out.
func (r *room) remove(c *conn) {
	r.mu.Lock()
	r.editMembers(nil, c)
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
func (r *room) onSignal(m *nats.Msg) {
	var s contract.Signal
	if err := contract.DecodeSignal(m.Data, &s); err != nil || s.RoomID != r.id || s.From.ConnectionID == "" {
		r.g.log.Warn("dropped a malformed signal", slog.String("subject", m.Subject), slog.Any("err", err))
		return
	}
	ms := r.members.Load()
	if s.To != "" {
		if c := ms.byID[s.To]; c != nil && c.id() != s.From.ConnectionID {
			c.send(c.d.RenderSignal(&s, c.self.User.ID))
		}
		return
	}
	var cache [maxDialects][]byte
	for _, c := range ms.list {
		if c.id() == s.From.ConnectionID || s.ToUser != "" && c.self.User.ID != s.ToUser {
			continue
		}
		f := cache[c.dix]
		if f == nil {
			f = c.d.RenderSignal(&s, c.self.User.ID)
			cache[c.dix] = f
		}
		c.send(f)
	}
}

// tombstoneTTL is how long a left connection id is remembered, to drop a
// joined event that arrives after its left. Far longer than any reordering.
const tombstoneTTL = 5 * time.Minute

// onPresence applies a joined or left event to every local connection.
func (r *room) onPresence(m *nats.Msg) {
	var ev contract.PresenceEvent
	if err := decodeJSON(m.Data, &ev); err != nil || ev.Participant.ConnectionID == "" ||
		(ev.Event != contract.EventJoined && ev.Event != contract.EventLeft) {
		r.g.log.Warn("dropped a malformed presence event", slog.String("subject", m.Subject), slog.Any("err", err))
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
	ms := r.members.Load()
	if c := ms.byID[id]; c != nil && ev.Event == contract.EventLeft {
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
	var cache [maxDialects][]byte
	for _, c := range ms.list {
		if c.view == nil {
			c.events = append(c.events, &ev)
			continue
		}
		if f := r.apply(c, &ev, true); f != nil {
			c.send(cached(&cache[c.dix], f))
		}
	}
}

// cached returns the frame in *slot, or render's if the slot is empty.
func cached(slot *[]byte, render func() []byte) []byte {
	if *slot == nil {
		*slot = render()
	}
	return *slot
}

// apply updates c's view with ev. It returns what renders the frame that
// tells the client, when notify is set and the dialect tells of it.
func (r *room) apply(c *conn, ev *contract.PresenceEvent, notify bool) func() []byte {
	p := ev.Participant
	switch {
	case p.ConnectionID == c.id():
	case ev.Event == contract.EventJoined:
		// A join stored before c's own is in c's snapshot already, or has
		// left since: either way, nothing to tell.
		stale := ev.Revision != 0 && ev.Revision < c.joinRev
		if _, left := r.gone[p.ConnectionID]; !left && !stale {
			return c.learn(p, ev.Revision, notify)
		}
	case ev.Event == contract.EventLeft:
		return c.forget(p.ConnectionID, ev.Reason, notify)
	}
	return nil
}
