package presence

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/bucket"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// tryJoin is join for goroutines other than the test's own: it returns the
// error instead of failing the test.
func tryJoin(nc *nats.Conn, room, conn, lease string) (contract.JoinReply, error) {
	var rep contract.JoinReply
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := rpc.Call(ctx, nc, subject.PresenceJoin, contract.JoinRequest{
		RoomID:      room,
		Participant: contract.Participant{ConnectionID: conn, User: contract.User{ID: "u-" + conn}, GatewayID: "gw-" + lease},
		Lease:       lease,
	}, &rep)
	return rep, err
}

// tryLeave is leave for goroutines other than the test's own.
func tryLeave(nc *nats.Conn, room, conn string) (bool, error) {
	var rep contract.LeaveReply
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := rpc.Call(ctx, nc, subject.PresenceLeave, contract.LeaveRequest{RoomID: room, ConnectionID: conn}, &rep)
	return rep.Removed, err
}

// history is what a room's events say happened: the revision each
// connection joined at and, once gone, left at.
type history struct {
	joined, left map[string]uint64
}

func historyOf(tb testing.TB, evs []event) history {
	tb.Helper()
	h := history{joined: map[string]uint64{}, left: map[string]uint64{}}
	for _, ev := range evs {
		m := h.joined
		if ev.Event == contract.EventLeft {
			m = h.left
		}
		if _, dup := m[ev.Participant.ConnectionID]; dup {
			tb.Fatalf("two %s events for %s", ev.Event, ev.Participant.ConnectionID)
		}
		if ev.Revision == 0 {
			tb.Fatalf("%s event for %s without a revision", ev.Event, ev.Participant.ConnectionID)
		}
		m[ev.Participant.ConnectionID] = ev.Revision
	}
	return h
}

// at returns who was in the room at revision rev: joined at or before it,
// and not left by then.
func (h history) at(rev uint64) []string {
	var in []string
	for id, j := range h.joined {
		if l, gone := h.left[id]; j <= rev && (!gone || l > rev) {
			in = append(in, id)
		}
	}
	slices.Sort(in)
	return in
}

func sorted(ps []contract.Participant) []string {
	out := ids(ps)
	slices.Sort(out)
	return out
}

// TestConcurrentJoinsListEachOtherOnce joins many connections to one room
// at once and checks the property gateways build exactly-once discovery
// on, straight from the join replies: of any two, exactly one lists the
// other, and it is the one whose join has the higher revision; a reply
// lists each participant with the revision of its own join.
func TestConcurrentJoinsListEachOtherOnce(t *testing.T) {
	const n = 120
	for _, instances := range []int{1, 2} {
		t.Run(strconv.Itoa(instances)+" instances", func(t *testing.T) {
			s := natstest.Server(t)
			for range instances {
				startService(t, s, testConfig, nil)
			}
			nc := natstest.Connect(t, s)
			events := watchRooms(t, nc, "crowd")

			replies := make([]contract.JoinReply, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					replies[i], errs[i] = tryJoin(nc, "crowd", "c"+strconv.Itoa(i), "L"+strconv.Itoa(i%4))
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("join c%d: %v", i, err)
				}
			}

			rev := map[string]uint64{}
			for i, rep := range replies {
				rev["c"+strconv.Itoa(i)] = rep.Revision
			}
			if len(slices.Compact(slices.Sorted(maps.Values(rev)))) != n {
				t.Fatal("two joins have the same revision")
			}
			lists := func(x, y int) bool {
				return slices.ContainsFunc(replies[x].Participants, func(p contract.Participant) bool {
					return p.ConnectionID == "c"+strconv.Itoa(y)
				})
			}
			for x := range n {
				for _, p := range replies[x].Participants {
					if p.Revision != rev[p.ConnectionID] || p.Revision >= replies[x].Revision {
						t.Fatalf("c%d (revision %d) lists %s at revision %d; it joined at %d",
							x, replies[x].Revision, p.ConnectionID, p.Revision, rev[p.ConnectionID])
					}
				}
				for y := x + 1; y < n; y++ {
					xy, yx := lists(x, y), lists(y, x)
					if xy == yx {
						t.Fatalf("c%d and c%d: x lists y = %v, y lists x = %v; want exactly one", x, y, xy, yx)
					}
					if later := replies[x].Revision > replies[y].Revision; xy != later {
						t.Fatalf("c%d (revision %d) and c%d (revision %d): the later join must list the earlier",
							x, replies[x].Revision, y, replies[y].Revision)
					}
				}
			}
			h := historyOf(t, events.all())
			if len(h.joined) != n {
				t.Fatalf("%d joined events, want %d", len(h.joined), n)
			}
			for id, r := range rev {
				if h.joined[id] != r {
					t.Fatalf("%s: joined event at %d, reply at %d", id, h.joined[id], r)
				}
			}
			if got := list(t, nc, "crowd"); len(got) != n {
				t.Fatalf("list has %d participants, want %d", len(got), n)
			}
		})
	}
}

// TestJoinRepliesWhileOthersLeave joins newcomers while the residents
// leave, all at once: each join reply lists exactly who was there at its
// revision, also the residents whose leave came after the join but before
// the reply was made, judged by the revisions of the events.
func TestJoinRepliesWhileOthersLeave(t *testing.T) {
	const n = 60
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "churn")
	for i := range n {
		join(t, nc, "churn", "r"+strconv.Itoa(i), "u", "L1")
	}

	replies := make([]contract.JoinReply, n)
	errs := make([]error, 2*n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = tryJoin(nc, "churn", "n"+strconv.Itoa(i), "L2")
		})
		wg.Go(func() {
			<-start
			var removed bool
			removed, errs[n+i] = tryLeave(nc, "churn", "r"+strconv.Itoa(i))
			if errs[n+i] == nil && !removed {
				errs[n+i] = fmt.Errorf("leave r%d removed nothing", i)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	h := historyOf(t, events.all())
	for i, rep := range replies {
		id := "n" + strconv.Itoa(i)
		want := slices.DeleteFunc(h.at(rep.Revision), func(s string) bool { return s == id })
		if got := sorted(rep.Participants); !slices.Equal(got, want) {
			t.Fatalf("%s joined at %d and lists %v, want %v", id, rep.Revision, got, want)
		}
	}
}

// TestListAtItsRevision lists a room while connections join and leave it:
// each list holds exactly who was there at its revision, judged by the
// revisions of the events.
func TestListAtItsRevision(t *testing.T) {
	const n = 100
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "busy")

	var lists []contract.PresenceList
	var mu sync.Mutex
	errs := make([]error, n+4)
	stop := make(chan struct{})
	var wg, listers sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := "c" + strconv.Itoa(i)
			if _, errs[i] = tryJoin(nc, "busy", id, "L1"); errs[i] == nil && i%2 == 0 {
				_, errs[i] = tryLeave(nc, "busy", id)
			}
		})
	}
	for l := range 4 {
		listers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var rep contract.PresenceList
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := rpc.Call(ctx, nc, subject.PresenceList, contract.RoomRequest{RoomID: "busy"}, &rep)
				cancel()
				if err != nil {
					errs[n+l] = err
					return
				}
				mu.Lock()
				lists = append(lists, rep)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	listers.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	lists = append(lists, call[contract.PresenceList](t, nc, subject.PresenceList, contract.RoomRequest{RoomID: "busy"}))
	h := historyOf(t, events.all())
	if len(h.joined) != n || len(h.left) != n/2 {
		t.Fatalf("%d joined and %d left events, want %d and %d", len(h.joined), len(h.left), n, n/2)
	}
	for _, l := range lists {
		if got, want := sorted(l.Participants), h.at(l.Revision); !slices.Equal(got, want) {
			t.Fatalf("list at %d = %v, want %v", l.Revision, got, want)
		}
		for _, p := range l.Participants {
			if p.Revision != h.joined[p.ConnectionID] {
				t.Fatalf("list at %d: %s at revision %d, joined at %d", l.Revision, p.ConnectionID, p.Revision, h.joined[p.ConnectionID])
			}
		}
	}
	if last := lists[len(lists)-1]; len(last.Participants) != n/2 {
		t.Fatalf("final list = %v, want the %d that stayed", ids(last.Participants), n/2)
	}
}

// TestRoomAtEarlierRevisions reads the mirror at each revision of a short
// history: joins, a leave, a join after it.
func TestRoomAtEarlierRevisions(t *testing.T) {
	s := natstest.Server(t)
	svc := startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "r1")
	a := join(t, nc, "r1", "a", "u", "L1").Revision
	b := join(t, nc, "r1", "b", "u", "L1").Revision
	leave(t, nc, "r1", "a", "")
	c := join(t, nc, "r1", "c", "u", "L1").Revision
	h := historyOf(t, events.all())
	gone := h.left["a"]
	if !(a < b && b < gone && gone < c) {
		t.Fatalf("revisions a %d, b %d, a left %d, c %d: want them in that order", a, b, gone, c)
	}
	for _, tc := range []struct {
		at   uint64
		want []string
		last uint64
	}{
		{a - 1, nil, 0},
		{a, []string{"a"}, a},
		{b - 1, []string{"a"}, a},
		{b, []string{"a", "b"}, b},
		{gone - 1, []string{"a", "b"}, b},
		{gone, []string{"b"}, gone},
		{c, []string{"b", "c"}, c},
		{c + 100, []string{"b", "c"}, c},
	} {
		entries, last := svc.mirror.at("r1", tc.at)
		got := make([]string, 0, len(entries))
		for _, e := range entries {
			got = append(got, e.ConnectionID)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) || last != tc.last {
			t.Errorf("room at %d = %v (last change %d), want %v (last change %d)", tc.at, got, last, tc.want, tc.last)
		}
	}
	if got := call[contract.PresenceList](t, nc, subject.PresenceList, contract.RoomRequest{RoomID: "r1"}); got.Revision != c {
		t.Errorf("list at revision %d, want the room's last change %d", got.Revision, c)
	}
}

func TestLeaveIsIdempotent(t *testing.T) {
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "r1")
	join(t, nc, "r1", "c1", "u", "L1")
	join(t, nc, "r1", "c2", "u", "L1")
	events.take()

	const n = 20
	removed := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { removed[i], errs[i] = tryLeave(nc, "r1", "c1") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if k := len(slices.DeleteFunc(removed, func(r bool) bool { return !r })); k != 1 {
		t.Fatalf("%d of %d concurrent leaves removed it, want 1", k, n)
	}
	if evs := events.take(); len(evs) != 1 || count(evs, contract.EventLeft, "c1") != 1 {
		t.Fatalf("events = %+v, want one left for c1", evs)
	}
	if leave(t, nc, "r1", "c1", "") || leave(t, nc, "r1", "never", "") || leave(t, nc, "nowhere", "c1", "") {
		t.Error("leaving a connection that is not there: removed = true")
	}
	if evs := events.take(); len(evs) != 0 {
		t.Fatalf("events = %+v, want none", evs)
	}
	if got := ids(list(t, nc, "r1")); !slices.Equal(got, []string{"c2"}) {
		t.Fatalf("list = %v, want [c2]", got)
	}
}

func TestRepeatJoinIsIdempotent(t *testing.T) {
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "r1")
	join(t, nc, "r1", "other", "u", "L1")
	events.take()

	const n = 20
	replies := make([]contract.JoinReply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i], errs[i] = tryJoin(nc, "r1", "c1", "L1") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if evs := events.take(); len(evs) != 1 || count(evs, contract.EventJoined, "c1") != 1 {
		t.Fatalf("events = %+v, want one joined for c1", evs)
	}
	for _, rep := range replies {
		if got := ids(rep.Participants); !slices.Equal(got, []string{"other"}) {
			t.Fatalf("reply lists %v, want [other]", got)
		}
	}
	if got := sorted(list(t, nc, "r1")); !slices.Equal(got, []string{"c1", "other"}) {
		t.Fatalf("list = %v, want [c1 other]", got)
	}
}

// TestJoinWritesLeaseOnlyWhenNeeded checks that a join under a lease this
// instance has just written leaves the lease key alone, and that a join
// under a lease nobody wrote creates its key, so the reaper can find it.
func TestJoinWritesLeaseOnlyWhenNeeded(t *testing.T) {
	s := natstest.Server(t)
	cfg := Config{LeaseTTL: time.Minute, ReapInterval: time.Hour}
	svc := startService(t, s, cfg, nil)
	nc := natstest.Connect(t, s)
	ctx := context.Background()
	revision := func(lease string) uint64 {
		t.Helper()
		e, err := svc.kv.Get(ctx, leaseKey(lease))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision()
	}

	heartbeat(t, nc, "L1")
	before := revision("L1")
	for i := range 5 {
		join(t, nc, "r1", "c"+strconv.Itoa(i), "u", "L1")
	}
	if after := revision("L1"); after != before {
		t.Errorf("lease L1 written by joins (revision %d, then %d), want untouched", before, after)
	}
	if revision("L2") != 0 {
		t.Fatal("L2 exists before any join")
	}
	join(t, nc, "r1", "c9", "u", "L2")
	if revision("L2") == 0 {
		t.Error("a join under an unknown lease did not create its key")
	}
}

// TestReapedEntriesAreRemoved checks the keys a reaped lease leaves: the
// entries are gone, their lease too, and the connections of a lease kept
// alive stay.
func TestReapedEntriesAreRemoved(t *testing.T) {
	s := natstest.Server(t)
	svc := startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "ra", "rb")
	join(t, nc, "ra", "dead1", "u", "Ldead")
	join(t, nc, "rb", "dead2", "u", "Ldead")
	join(t, nc, "ra", "live1", "u", "Llive")
	var beat time.Time
	poll.Until(t, 10*time.Second, "left events for dead1 and dead2", func() bool {
		if time.Since(beat) > testConfig.LeaseTTL/5 {
			heartbeat(t, nc, "Llive")
			beat = time.Now()
		}
		evs := events.all()
		return count(evs, contract.EventLeft, "dead1") == 1 && count(evs, contract.EventLeft, "dead2") == 1
	})
	ctx := context.Background()
	for _, key := range []string{roomKey("ra", "dead1"), roomKey("rb", "dead2"), leaseKey("Ldead")} {
		if _, err := svc.kv.Get(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("%s: err = %v, want not found", key, err)
		}
	}
	if _, err := svc.kv.Get(ctx, roomKey("ra", "live1")); err != nil {
		t.Errorf("%s: %v", roomKey("ra", "live1"), err)
	}
	if got := ids(list(t, nc, "ra")); !slices.Equal(got, []string{"live1"}) {
		t.Errorf("ra = %v, want [live1]", got)
	}
	if n := count(events.all(), contract.EventLeft, "live1"); n != 0 {
		t.Errorf("live1: %d left events, want 0", n)
	}
}

// TestRoomKeysOfTheOlderLayoutAreMigrated starts on a bucket that holds a
// room as one key (rooms.<room_id>), as before each connection had its
// own: its participants are listed without an event, the old key goes,
// and one whose connection id cannot be a key leaves with an event. A key
// of the older layout written later (by an older instance still running)
// is migrated by the reaper.
func TestRoomKeysOfTheOlderLayoutAreMigrated(t *testing.T) {
	s := natstest.Server(t)
	nc := natstest.Connect(t, s)
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := bucket.Open(ctx, js, jetstream.KeyValueConfig{Bucket: bucketName, History: 1, LimitMarkerTTL: markerTTL})
	if err != nil {
		t.Fatal(err)
	}
	legacy := func(room string, conns ...string) {
		t.Helper()
		doc := `{"participants":[`
		for i, c := range conns {
			if i > 0 {
				doc += ","
			}
			doc += fmt.Sprintf(`{"connection_id":%q,"user":{"id":"u-%s"},"gateway_id":"g","joined_at":"2026-01-02T03:04:0%dZ","lease":"L1"}`, c, c, i)
		}
		if _, err := kv.Put(ctx, legacyRoomKey(room), []byte(doc+`]}`)); err != nil {
			t.Fatal(err)
		}
	}
	heartbeat := func() {
		if _, err := kv.Put(ctx, leaseKey("L1"), []byte(`{"gateway_id":"g"}`)); err != nil {
			t.Fatal(err)
		}
	}
	heartbeat()
	legacy("old", "c1", "c.2", "c3")
	events := watchRooms(t, nc, "old", "late")

	startService(t, s, testConfig, nil)
	if got := ids(list(t, nc, "old")); !slices.Equal(got, []string{"c1", "c3"}) {
		t.Fatalf("old = %v, want [c1 c3]", got)
	}
	if _, err := kv.Get(ctx, legacyRoomKey("old")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("rooms.old after start: err = %v, want not found", err)
	}
	evs := events.take()
	if len(evs) != 1 || count(evs, contract.EventLeft, "c.2") != 1 {
		t.Fatalf("events = %+v, want one left for c.2", evs)
	}
	if leave(t, nc, "old", "c1", "") != true {
		t.Error("leave of a migrated connection removed nothing")
	}

	legacy("late", "c4")
	var beat time.Time
	poll.Until(t, 10*time.Second, "the reaper to migrate rooms.late", func() bool {
		if time.Since(beat) > testConfig.LeaseTTL/5 {
			heartbeat()
			beat = time.Now()
		}
		return slices.Equal(ids(list(t, nc, "late")), []string{"c4"})
	})
	if _, err := kv.Get(ctx, legacyRoomKey("late")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("rooms.late after migration: err = %v, want not found", err)
	}
	if n := count(events.all(), contract.EventJoined, "c4"); n != 0 {
		t.Errorf("c4: %d joined events, want none", n)
	}
}

// TestMirrorWatchesAgainWhenItsWatcherEnds ends the mirror's watcher, as a
// consumer lost for good would: the instance watches again, and serves
// the rooms as before.
func TestMirrorWatchesAgainWhenItsWatcherEnds(t *testing.T) {
	s := natstest.Server(t)
	svc := startService(t, s, Config{LeaseTTL: time.Minute, ReapInterval: time.Hour}, nil)
	nc := natstest.Connect(t, s)
	join(t, nc, "r1", "c1", "u", "L1")
	join(t, nc, "r1", "c2", "u", "L1")
	leave(t, nc, "r1", "c2", "")

	old := svc.watching.Load()
	if err := (*old).Stop(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "a new watcher", func() bool { return svc.watching.Load() != old })
	if rep := join(t, nc, "r1", "c3", "u", "L1"); !slices.Equal(ids(rep.Participants), []string{"c1"}) {
		t.Fatalf("join after the watcher ended lists %v, want [c1]", ids(rep.Participants))
	}
	if got := ids(list(t, nc, "r1")); !slices.Equal(got, []string{"c1", "c3"}) {
		t.Fatalf("list = %v, want [c1 c3]", got)
	}
}
