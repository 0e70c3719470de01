package presence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// mirror is this instance's copy of the rooms in the bucket. One watcher
// (an ordered consumer of rooms.> and fences.>) feeds it every change in
// revision order, so once it has applied revision R it holds every room as
// of R, and rooms are listed from memory.
//
// A join needs its room as of the revision just before its own,
// though it looks later, when entries created after R may be there and
// entries present at R may have left. So the mirror keeps each entry's
// revision, and each entry removed in the last keep (with the revision of
// its removal): the room at revision at is the entries created at or
// before at and not removed by then. A removal the watcher sees without the
// entry (the entry was purged before it was delivered) still tells: the
// marker that removes an entry carries it.
//
// When the watcher ends (its consumer is gone) the mirror starts over from
// a new one; until that one has delivered every key, the mirror is loading
// and lists nothing.
//
// The mirror's methods are safe for concurrent use.
type mirror struct {
	keep time.Duration // how long removed entries are kept

	mu      sync.RWMutex
	loading bool          // until the watcher has delivered every key
	applied uint64        // the last revision applied
	moved   chan struct{} // closed, and replaced, when applied grows or loading ends
	rooms   map[string]*mirrorRoom
}

// mirrorRoom is one room in the mirror.
type mirrorRoom struct {
	live    map[string]*entry // by connection id; Revision is the join's
	removed []removal         // ascending by revision
	dropped uint64            // revision of the last removal no longer kept
}

// removal is an entry removed from a room.
type removal struct {
	e    *entry
	rev  uint64    // the removal's revision
	seen time.Time // when the mirror applied it
}

func newMirror(keep time.Duration) *mirror {
	return &mirror{keep: keep, loading: true, moved: make(chan struct{}), rooms: map[string]*mirrorRoom{}}
}

// participants counts the live entries of every room.
func (m *mirror) participants() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, r := range m.rooms {
		n += len(r.live)
	}
	return n
}

// reset empties the mirror for a new watcher to fill.
func (m *mirror) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loading, m.applied, m.rooms = true, 0, map[string]*mirrorRoom{}
}

// loaded records that the watcher has delivered every key.
func (m *mirror) loaded() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loading = false
	m.notify()
}

// notify wakes whoever waits. The caller holds mu.
func (m *mirror) notify() {
	close(m.moved)
	m.moved = make(chan struct{})
}

// apply applies the change of key to value (op) at revision rev. A
// revision at or below the last one applied was applied already (a
// watcher that restarted delivers it again) and changes nothing.
func (m *mirror) apply(key string, op jetstream.KeyValueOp, value []byte, rev uint64, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rev <= m.applied {
		return
	}
	m.applied = rev
	m.notify()
	roomID, connID, ok := splitRoomKey(key)
	if !ok || connID == "" {
		return // a fence, or a key of the older layout
	}
	r := m.rooms[roomID]
	if r == nil {
		r = &mirrorRoom{live: map[string]*entry{}}
		m.rooms[roomID] = r
	}
	old := r.live[connID]
	if op == jetstream.KeyValuePut {
		if old != nil {
			// Written again without our seeing its removal.
			delete(r.live, connID)
			r.removed = append(r.removed, removal{e: old, rev: rev, seen: now})
		}
		if e, err := decodeEntry(connID, value); err == nil {
			e.Joined, e.Revision = 0, rev
			r.live[connID] = &e
		}
		// What does not decode is nobody; the reaper removes it.
		return
	}
	if old != nil {
		delete(r.live, connID)
		r.removed = append(r.removed, removal{e: old, rev: rev, seen: now})
		return
	}
	// The entry was purged before the watcher delivered it: the marker
	// carries it.
	if e, err := decodeEntry(connID, value); err == nil && e.Joined != 0 && e.Joined < rev {
		e.Revision, e.Joined = e.Joined, 0
		r.removed = append(r.removed, removal{e: &e, rev: rev, seen: now})
	}
}

// wait returns once the mirror has applied revision rev and is not
// loading.
func (m *mirror) wait(ctx context.Context, rev uint64) error {
	for {
		m.mu.RLock()
		ready, moved := !m.loading && m.applied >= rev, m.moved
		m.mu.RUnlock()
		if ready {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// at returns the entries of the room at revision at (which the mirror must
// have applied), and the revision of the room's last change up to at (0
// when the mirror knows of none).
func (m *mirror) at(roomID string, at uint64) ([]entry, uint64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r := m.rooms[roomID]
	if r == nil {
		return nil, 0
	}
	entries := make([]entry, 0, len(r.live))
	var last uint64
	for _, e := range r.live {
		if e.Revision <= at {
			entries = append(entries, *e)
			last = max(last, e.Revision)
		}
	}
	for i := len(r.removed) - 1; i >= 0; i-- {
		rm := r.removed[i]
		if rm.rev <= at {
			last = max(last, rm.rev)
			break
		}
		if rm.e.Revision <= at {
			entries = append(entries, *rm.e)
			last = max(last, rm.e.Revision)
		}
	}
	if r.dropped <= at {
		last = max(last, r.dropped)
	}
	return entries, last
}

// lookup returns the live entry of a connection, as far as the mirror
// knows.
func (m *mirror) lookup(roomID, connID string) (entry, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if r := m.rooms[roomID]; r != nil {
		if e := r.live[connID]; e != nil {
			return *e, true
		}
	}
	return entry{}, false
}

// prune forgets removals older than keep, and rooms left with nothing.
func (m *mirror) prune(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, r := range m.rooms {
		n := 0
		for n < len(r.removed) && now.Sub(r.removed[n].seen) > m.keep {
			n++
		}
		if n > 0 {
			r.dropped = r.removed[n-1].rev
			r.removed = slices.Delete(r.removed, 0, n)
		}
		if len(r.live) == 0 && len(r.removed) == 0 {
			delete(m.rooms, id)
		}
	}
}

// watchRooms starts a watcher of the keys the mirror follows. ctx bounds
// the requests its consumer makes, for as long as it runs.
func (s *Service) watchRooms(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := s.kv.WatchFiltered(ctx, []string{roomPrefix + ">", fencePrefix + ">"})
	if err != nil {
		return nil, fmt.Errorf("presence: watch rooms: %w", err)
	}
	return w, nil
}

// startMirror starts the mirror's watcher and returns once the mirror holds
// every room. ctx bounds the wait.
func (s *Service) startMirror(ctx context.Context) error {
	watchCtx, cancel := context.WithCancel(context.Background())
	w, err := s.watchRooms(watchCtx)
	if err != nil {
		cancel()
		return err
	}
	s.stopMirror = cancel
	s.mirrorDone = make(chan struct{})
	loaded := make(chan struct{})
	go func() {
		defer close(s.mirrorDone)
		s.runMirror(watchCtx, w, loaded)
	}()
	select {
	case <-loaded:
		return nil
	case <-ctx.Done():
		s.stopWatching()
		return fmt.Errorf("presence: loading rooms: %w", ctx.Err())
	}
}

// stopWatching stops the mirror's watcher and waits for it.
func (s *Service) stopWatching() {
	s.stopMirror()
	<-s.mirrorDone
}

// watchRetry is how long the mirror waits before it watches again.
const watchRetry = time.Second

// runMirror feeds the mirror from w until ctx is done, and from a new
// watcher whenever one ends. It closes loaded once the first watcher has
// delivered every key.
func (s *Service) runMirror(ctx context.Context, w jetstream.KeyWatcher, loaded chan struct{}) {
	prune := time.NewTicker(markerTTL / 4)
	defer prune.Stop()
	for {
		if s.follow(ctx, w, prune.C, loaded) {
			return
		}
		s.log.Warn("room watcher ended, watching again")
		s.mirror.reset()
		for {
			t := time.NewTimer(watchRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			var err error
			if w, err = s.watchRooms(ctx); err == nil {
				break
			}
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("watching rooms failed", slog.Any("err", err))
			}
		}
	}
}

// follow applies what w delivers, and prunes the mirror on each tick of
// prune. It returns true when ctx is done, false when w ended.
func (s *Service) follow(ctx context.Context, w jetstream.KeyWatcher, prune <-chan time.Time, loaded chan struct{}) bool {
	s.watching.Store(&w)
	defer func() { _ = w.Stop() }() // stopping an ended watcher only says so
	for {
		select {
		case <-ctx.Done():
			return true
		case e, ok := <-w.Updates():
			if !ok {
				return false
			}
			if e == nil {
				s.mirror.loaded()
				select {
				case <-loaded:
				default:
					close(loaded)
				}
				continue
			}
			s.mirror.apply(e.Key(), e.Operation(), e.Value(), e.Revision(), time.Now())
		case now := <-prune:
			s.mirror.prune(now)
		}
	}
}
