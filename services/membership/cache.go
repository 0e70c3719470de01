package membership

import (
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// smallRoom is the most members a room may have for its access to keep
// them as a list: scanning a few is as fast as hashing, and a list costs a
// fraction of a map's memory.
const smallRoom = 8

// access is what authorize needs to know about one stored revision of a
// room: its policy and each member's role. It is built once and never
// changed, so any number of requests may read it without a lock.
type access struct {
	// policy is the stored policy, which may be one this service does not
	// know (authorize then refuses with 500).
	policy string
	// Each member's role: a list for rooms of up to smallRoom members, else
	// a map by user id. A user listed more than once has the first role
	// listed, as in the stored room.
	few   []contract.Member
	roles map[string]string
	// err says why the stored value is not a room; authorize refuses such a
	// room with 500 rather than treating it as missing.
	err error
}

// role returns the user's role, or "" if they are not a member.
func (a *access) role(userID string) string {
	if a.roles != nil {
		return a.roles[userID]
	}
	for _, m := range a.few {
		if m.UserID == userID {
			return m.Role
		}
	}
	return ""
}

// decodeAccess decodes a value of the rooms bucket. A value that is not a
// room gives an access whose err says why.
func decodeAccess(data []byte) *access {
	var room contract.Room
	if err := json.Unmarshal(data, &room); err != nil {
		return &access{err: err}
	}
	return newAccess(&room)
}

// newAccess returns the access of room; it does not keep room.
func newAccess(room *contract.Room) *access {
	a := &access{policy: known(room.Policy)}
	if len(room.Members) <= smallRoom {
		a.few = slices.Clone(room.Members)
		for i := range a.few {
			a.few[i].Role = known(a.few[i].Role)
		}
		return a
	}
	a.roles = make(map[string]string, len(room.Members))
	for _, m := range room.Members {
		if _, dup := a.roles[m.UserID]; !dup {
			a.roles[m.UserID] = known(m.Role)
		}
	}
	return a
}

// known returns the package constant equal to s, when there is one, so that
// the decoded copy can be freed: a cache of many members keeps one string
// per role, not one per member.
func known(s string) string {
	switch s {
	case contract.RoleOwner:
		return contract.RoleOwner
	case contract.RoleMember:
		return contract.RoleMember
	case contract.PolicyMembers:
		return contract.PolicyMembers
	case contract.PolicyOpen:
		return contract.PolicyOpen
	}
	return s
}

// How the cache decides whether it may answer. See roomCache.
const (
	// maxStale is how long after the cache was last known to be current it
	// may still answer. It bounds how late authorize sees a write when the
	// watch fails silently.
	maxStale = 2 * time.Second
	// probeEvery is how often the loop checks that the watch keeps up.
	probeEvery = 500 * time.Millisecond
	// maxProbes bounds the probes waiting for the watch to catch up.
	maxProbes = 8
)

// cached is the cache's entry for one room id: the newest revision seen
// and, unless that revision deleted the room, its access.
type cached struct {
	rev  uint64
	room *access // nil: a tombstone, see roomCache.forget
}

// probe says that the bucket's newest revision was seq at start (or
// later), so the cache holds every write committed before start once it
// has applied seq.
type probe struct {
	start time.Time
	seq   uint64
}

// roomCache is this instance's copy of the rooms bucket, for authorize.
//
// The watch loop (watch.go) applies every change the KV watch delivers,
// in revision order; this instance's own writes are applied as soon as
// they are stored, so the instance reads its own writes. Each entry keeps
// the revision it came from and is only ever replaced by a newer one, so
// a watch update that arrives after a newer local write cannot undo it.
//
// The cache answers only while it is current: it is known to have held
// every write committed before some moment no more than maxStale ago (the
// end of the watch's initial values, or a probe: the bucket's newest
// revision, read from the stream, that the watch has since delivered).
// Otherwise lookup reports that it cannot answer and the caller reads the
// bucket. So a write is seen by authorize no later than maxStale after it
// was committed, whatever happens to the watch, and normally as soon as
// the watch delivers it.
//
// All methods are safe for concurrent use.
type roomCache struct {
	// gen counts the watches: a local write applies only to the cache of the
	// watch that was current when the write began (a new watch delivers the
	// write itself). Written under mu.
	gen atomic.Uint64

	mu    sync.RWMutex
	rooms map[string]cached
	// tombs lists ids holding a tombstone the watch has not passed yet.
	tombs []string
	// hwm is the newest revision the current watch delivered.
	hwm uint64
	// base is the bucket's newest revision just before the current watch
	// started: its initial values include every revision up to base that
	// still exists.
	base uint64
	// initial is set once the current watch has delivered its initial values.
	initial bool
	// verified is the latest moment the cache is known to have held every
	// write committed before it; zero when not known.
	verified time.Time
	// floor is when the cache was last distrusted: nothing known from before
	// then verifies it.
	floor time.Time
	// probes wait, oldest first, for the watch to deliver their seq.
	probes []probe
	// ready is closed the first time the cache is verified.
	ready     chan struct{}
	readyOnce sync.Once
}

func newRoomCache() *roomCache {
	return &roomCache{rooms: map[string]cached{}, ready: make(chan struct{})}
}

// lookup returns the room with id, nil if there is none, and true; or
// false when the cache may be stale and the bucket must be read instead.
func (c *roomCache) lookup(id string) (*access, bool) {
	now := time.Now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.currentAt(now) {
		return nil, false
	}
	return c.rooms[id].room, true
}

// current reports whether lookup answers from the cache.
func (c *roomCache) current() bool {
	now := time.Now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.currentAt(now)
}

func (c *roomCache) currentAt(now time.Time) bool {
	return !c.verified.IsZero() && now.Sub(c.verified) <= maxStale
}

// generation returns the current watch's generation, for put and forget.
func (c *roomCache) generation() uint64 { return c.gen.Load() }

// put records a room this instance stored at rev; gen is the generation
// read before the write began.
func (c *roomCache) put(gen uint64, id string, rev uint64, room *access) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen.Load() {
		c.set(id, rev, room, false)
	}
}

// forget records that this instance deleted the room with id, which had
// revision prev. The deletion's own revision is not known, only that it is
// above prev, so the cache keeps a tombstone at prev+1 until the watch
// passes it: no write older than the deletion can bring the room back.
func (c *roomCache) forget(gen uint64, id string, prev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen.Load() {
		c.set(id, prev+1, nil, false)
	}
}

// watched applies one change delivered by the watch; a nil room is a
// deletion.
func (c *roomCache) watched(id string, rev uint64, room *access) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hwm = max(c.hwm, rev)
	c.set(id, rev, room, true)
	if len(c.tombs) > 0 {
		kept := c.tombs[:0]
		for _, t := range c.tombs {
			switch e, ok := c.rooms[t]; {
			case !ok || e.room != nil:
			case e.rev <= c.hwm:
				delete(c.rooms, t)
			default:
				kept = append(kept, t)
			}
		}
		c.tombs = kept
	}
	c.settle()
}

// set applies a revision of a room unless the cache already has a newer
// one. Locked.
func (c *roomCache) set(id string, rev uint64, room *access, fromWatch bool) {
	e, ok := c.rooms[id]
	switch {
	case ok && rev < e.rev:
		return
	case !ok && !fromWatch && rev <= c.hwm:
		// The watch has delivered this revision already, and whatever it
		// held for id is gone since: the room was deleted after rev.
		return
	}
	if room == nil && (fromWatch || rev <= c.hwm) {
		// The watch delivers nothing older for id any more.
		delete(c.rooms, id)
		return
	}
	c.rooms[id] = cached{rev: rev, room: room}
	if room == nil {
		c.tombs = append(c.tombs, id)
	}
}

// initialDone records that the current watch, started at start, has
// delivered its initial values.
func (c *roomCache) initialDone(start time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.initial = true
	c.verify(start)
	c.settle()
}

// observe records a probe. It reports whether the cache has caught up
// with it already; if not, the probe waits for the watch.
func (c *roomCache) observe(p probe) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.covers(p.seq) {
		c.verify(p.start)
		return true
	}
	if len(c.probes) == maxProbes {
		c.probes = c.probes[1:]
	}
	c.probes = append(c.probes, p)
	return false
}

// covers reports whether the cache holds every revision up to seq. Locked.
func (c *roomCache) covers(seq uint64) bool {
	return seq <= c.hwm || (c.initial && seq <= c.base)
}

// settle verifies the cache for each waiting probe it has caught up with.
// Locked.
func (c *roomCache) settle() {
	kept := c.probes[:0]
	for _, p := range c.probes {
		if c.covers(p.seq) {
			c.verify(p.start)
		} else {
			kept = append(kept, p)
		}
	}
	c.probes = kept
}

// verify records that the cache held every write committed before t.
// Locked.
func (c *roomCache) verify(t time.Time) {
	if t.Before(c.floor) || !t.After(c.verified) {
		return
	}
	c.verified = t
	c.readyOnce.Do(func() { close(c.ready) })
}

// distrust stops the cache from answering until it is verified again by
// something that starts after now. The watch loop calls it when the
// connection is lost or the bucket is gone.
func (c *roomCache) distrust() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.floor = time.Now()
	c.verified = time.Time{}
	c.probes = nil
}

// reset empties the cache for a new watch; base is the bucket's newest
// revision, read just before the watch starts.
func (c *roomCache) reset(base uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.rooms = make(map[string]cached, len(c.rooms))
	c.tombs = nil
	c.hwm = 0
	c.base = base
	c.initial = false
	c.verified = time.Time{}
	c.probes = nil
}
