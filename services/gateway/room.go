package gateway

import (
	"context"
	"encoding/json"
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
//
// Room subscriptions deliver into a few shared channels (shards) rather
// than each having a goroutine of its own, as nats.go's async subscriptions
// do: with rooms of two, that goroutine would cost as much as the
// connections. A room's subscriptions all use one shard, whose one
// dispatcher goroutine keeps each subject's messages in order.
type hub struct {
	g      *Gateway
	shards []chan *nats.Msg
	subs   sync.Map // subject -> *route

	mu    sync.Mutex
	rooms map[string]*room
}

// shardDepth is how many messages a shard holds for its dispatcher; past
// it, nats.go drops messages for the subscription (a slow consumer), which
// the resync repairs for presence.
const shardDepth = 32 << 10

func newHub(g *Gateway, shards int) *hub {
	h := &hub{g: g, rooms: map[string]*room{}, shards: make([]chan *nats.Msg, max(shards, 1))}
	for i := range h.shards {
		h.shards[i] = make(chan *nats.Msg, shardDepth)
	}
	return h
}

// dispatch delivers one shard's messages until ctx is done.
func (h *hub) dispatch(ctx context.Context, shard chan *nats.Msg) {
	defer h.g.background.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-shard:
			rt, ok := h.subs.Load(m.Subject)
			if !ok {
				continue
			}
			// A message of an earlier subscription to the subject, still
			// queued, is not the new one's.
			if sub := rt.(*route).sub.Load(); sub != nil && m.Sub != sub {
				continue
			}
			rt.(*route).f(m)
		}
	}
}

// route is where a subject's messages go. A room that is released and
// acquired again gets new routes, so the old one's teardown cannot remove
// the new one's.
type route struct {
	sub atomic.Pointer[nats.Subscription]
	f   func(*nats.Msg)
}

// subscribe subscribes f to subj on the shard of room id.
func (h *hub) subscribe(subj, id string, f func(*nats.Msg)) (*route, error) {
	var sum uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(id); i++ {
		sum = (sum ^ uint32(id[i])) * 16777619
	}
	// Stored first, so that no message finds the subscription unknown.
	rt := &route{f: f}
	h.subs.Store(subj, rt)
	sub, err := h.g.nc.ChanSubscribe(subj, h.shards[sum%uint32(len(h.shards))])
	if err != nil {
		h.subs.CompareAndDelete(subj, rt)
		return nil, err
	}
	rt.sub.Store(sub)
	return rt, nil
}

// unsubscribe ends a route.
func (h *hub) unsubscribe(rt *route) {
	sub := rt.sub.Load()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		h.g.log.Warn("unsubscribe", slog.String("subject", sub.Subject), slog.Any("err", err))
	}
	h.subs.CompareAndDelete(sub.Subject, rt)
}

// room is one room as seen by this gateway: its NATS subscriptions, its
// local connections, and who is in it (its view).
//
// Signals are fanned out from an immutable snapshot of the local
// connections (members), without the room's lock: a signal is decoded once,
// rendered once per dialect, and the same frame is queued to every
// receiver. Presence changes take the lock.
//
// Exactly-once discovery. A connection subscribes (through its room) before
// it registers with presence; presence orders changes by revision, and a
// join reply lists, with their join revisions, everyone present at the
// join's own revision J. So a connection c has been told of a participant p
// exactly when p joined after J (told by a joined event), or p joined before
// J and left after it (in c's welcome). The room keeps one view for all its
// connections, not one per connection: the participants it knows, each with
// its join revision, and the ids that have left (tombstones, so that a
// joined that arrives after its left is dropped). When the room first learns
// of p, from whatever source, it tells each welcomed connection with J below
// p's revision; when p leaves at revision L, it tells each welcomed
// connection with J below L. A connection's welcome is its join reply plus
// whatever the room learned meanwhile that joined after J.
type room struct {
	g               *Gateway
	id              string
	signalSubject   string
	presenceSubject string

	refs   int           // guarded by hub.mu; 0 while unsubscribing
	ready  chan struct{} // closed once subscribed (or failed)
	closed chan struct{} // closed once unsubscribed and out of the hub
	err    error         // set before ready is closed
	routes []*route

	members atomic.Pointer[members] // replaced under mu

	mu    sync.Mutex
	known map[string]contract.Participant // the room's view: who is in it
	users map[string]int                  // participants in known per user id
	gone  map[string]time.Time            // connection ids that have left
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
	for ok && r.refs == 0 {
		// Its last user has gone and it is unsubscribing: wait, so that
		// its subscriptions and the new ones never overlap.
		h.mu.Unlock()
		select {
		case <-r.closed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		h.mu.Lock()
		r, ok = h.rooms[id]
	}
	if !ok {
		r = &room{g: h.g, id: id, ready: make(chan struct{}), closed: make(chan struct{}),
			known: map[string]contract.Participant{}, users: map[string]int{}, gone: map[string]time.Time{}}
		r.members.Store(&members{})
		h.rooms[id] = r
		h.g.m.rooms.Inc()
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
	h.mu.Unlock()
	if !last {
		return
	}
	<-r.ready
	for _, rt := range r.routes {
		h.unsubscribe(rt)
	}
	h.mu.Lock()
	delete(h.rooms, r.id)
	close(r.closed)
	h.mu.Unlock()
	h.g.m.rooms.Dec()
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
	sig, err := g.hub.subscribe(r.signalSubject, r.id, r.onSignal)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", r.signalSubject, err)
	}
	r.routes = append(r.routes, sig)
	pres, err := g.hub.subscribe(r.presenceSubject, r.id, r.onPresence)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", r.presenceSubject, err)
	}
	r.routes = append(r.routes, pres)
	// The server must know of both subscriptions before presence hears of
	// the join, or an event could slip past.
	if err := g.nc.Flush(); err != nil {
		return fmt.Errorf("subscribe room %s: %w", r.id, err)
	}
	return nil
}

// editMembers replaces the snapshot of local connections with one that has
// add (if not nil) and lacks remove (if not nil). The caller holds r.mu.
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
	c.joinRev = rep.Revision
	others := make([]contract.Participant, 0, len(rep.Participants))
	listed := make(map[string]bool, len(rep.Participants))
	for _, p := range rep.Participants {
		if _, left := r.gone[p.ConnectionID]; left || p.ConnectionID == c.id() {
			continue
		}
		listed[p.ConnectionID] = true
		others = append(others, p)
		r.learn(p, c)
	}
	// What the room learned while c was joining, from after c's join.
	for id, p := range r.known {
		if !listed[id] && id != c.id() && p.Revision > c.joinRev {
			others = append(others, p)
		}
	}
	sortParticipants(others)
	c.welcomed = true
	c.welcome(c.d.Welcome(c.self, r.id, others))
	return nil
}

// remove takes c out of the room's local fan-out.
func (r *room) remove(c *conn) {
	r.mu.Lock()
	r.editMembers(nil, c)
	r.mu.Unlock()
}

// knows reports whether connection id is in the room, as far as this
// gateway knows.
func (r *room) knows(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.known[id]
	return ok
}

// onSignal fans a signal from another gateway out to the local connections
// it is for.
func (r *room) onSignal(m *nats.Msg) {
	var s contract.Signal
	if err := contract.DecodeSignal(m.Data, &s); err != nil || s.RoomID != r.id || s.From.ConnectionID == "" {
		r.g.log.Warn("dropped a malformed signal", slog.String("subject", m.Subject), slog.Any("err", err))
		return
	}
	ms := r.members.Load()
	if ms.byID[s.From.ConnectionID] != nil {
		// One of ours, delivered locally when it was sent: NATS echoes
		// it only to a connection made without NATSOptions.
		return
	}
	r.fanout(ms, &s)
}

// fanout queues a signal to the local connections it is for, rendered
// once per dialect.
func (r *room) fanout(ms *members, s *contract.Signal) {
	if s.To != "" {
		if c := ms.byID[s.To]; c != nil && c.id() != s.From.ConnectionID {
			c.send(c.d.RenderSignal(s, c.self.User.ID))
			c.m.delivered.Inc()
		}
		return
	}
	var cache [maxDialects][]byte
	var sent [maxDialects]int
	for _, c := range ms.list {
		if c.id() == s.From.ConnectionID || s.ToUser != "" && c.self.User.ID != s.ToUser {
			continue
		}
		f := cache[c.dix]
		if f == nil {
			f = c.d.RenderSignal(s, c.self.User.ID)
			cache[c.dix] = f
		}
		c.send(f)
		sent[c.dix]++
	}
	for i, n := range sent {
		if n > 0 {
			r.g.m.dialects[i].delivered.Add(float64(n))
		}
	}
}

// tombstoneTTL is how long a left connection id is remembered, to drop a
// joined event that arrives after its left. Far longer than any reordering.
const tombstoneTTL = 5 * time.Minute

// onPresence applies a joined or left event to every local connection.
func (r *room) onPresence(m *nats.Msg) {
	var ev contract.PresenceEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Participant.ConnectionID == "" ||
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
			c.kill(websocket.StatusPolicyViolation, reasonKicked)
		} else {
			c.kill(websocket.StatusGoingAway, reasonPresenceLost)
		}
	}
	if ev.Event == contract.EventJoined {
		if _, left := r.gone[id]; !left {
			p := ev.Participant
			p.Revision = max(p.Revision, ev.Revision)
			r.learn(p, nil)
		}
		return
	}
	r.forget(id, ev.Reason, ev.Revision)
}
