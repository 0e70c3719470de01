package presence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

func TestJoinListLeave(t *testing.T) {
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "r1")

	t.Run("first join sees nobody and is announced once", func(t *testing.T) {
		rep := join(t, nc, "r1", "c1", "alice", "L1")
		if rep.Participants == nil || len(rep.Participants) != 0 {
			t.Fatalf("participants = %#v, want []", rep.Participants)
		}
		evs := events.take()
		if len(evs) != 1 || evs[0].Event != contract.EventJoined || evs[0].Participant.ConnectionID != "c1" {
			t.Fatalf("events = %+v, want one joined for c1", evs)
		}
		p := evs[0].Participant
		if p.User.ID != "alice" || p.GatewayID != "gw-L1" || p.JoinedAt.IsZero() {
			t.Errorf("joined participant = %+v, want alice on gw-L1 with joined_at", p)
		}
	})

	t.Run("second join sees the first", func(t *testing.T) {
		rep := join(t, nc, "r1", "c2", "bob", "L2")
		if got := ids(rep.Participants); !slices.Equal(got, []string{"c1"}) {
			t.Fatalf("participants = %v, want [c1]", got)
		}
		if evs := events.take(); len(evs) != 1 || count(evs, contract.EventJoined, "c2") != 1 {
			t.Fatalf("events = %+v, want one joined for c2", evs)
		}
	})

	t.Run("repeated join changes nothing and publishes nothing", func(t *testing.T) {
		rep := join(t, nc, "r1", "c1", "alice", "L1")
		if got := ids(rep.Participants); !slices.Equal(got, []string{"c2"}) {
			t.Fatalf("participants = %v, want [c2]", got)
		}
		if evs := events.take(); len(evs) != 0 {
			t.Fatalf("events = %+v, want none", evs)
		}
		if got := ids(list(t, nc, "r1")); !slices.Equal(got, []string{"c1", "c2"}) {
			t.Fatalf("list = %v, want [c1 c2]", got)
		}
	})

	t.Run("a given joined_at is kept and orders the list", func(t *testing.T) {
		early := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
		call[contract.JoinReply](t, nc, subject.PresenceJoin, contract.JoinRequest{
			RoomID:      "r1",
			Participant: contract.Participant{ConnectionID: "c0", User: contract.User{ID: "carol"}, GatewayID: "g1", JoinedAt: early},
			Lease:       "L1",
		})
		ps := list(t, nc, "r1")
		if got := ids(ps); !slices.Equal(got, []string{"c0", "c1", "c2"}) {
			t.Fatalf("list = %v, want [c0 c1 c2]", got)
		}
		if !ps[0].JoinedAt.Equal(early) {
			t.Errorf("c0 joined_at = %v, want %v", ps[0].JoinedAt, early)
		}
		events.take()
	})

	t.Run("list shows no lease", func(t *testing.T) {
		msg, err := nc.Request(subject.PresenceList, []byte(`{"room_id":"r1"}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(msg.Data, []byte("lease")) {
			t.Errorf("list reply has a lease: %s", msg.Data)
		}
	})

	t.Run("leave is announced once with its reason", func(t *testing.T) {
		if !leave(t, nc, "r1", "c2", contract.ReasonKicked) {
			t.Fatal("removed = false, want true")
		}
		evs := events.take()
		if len(evs) != 1 || evs[0].Event != contract.EventLeft || evs[0].Participant.ConnectionID != "c2" ||
			evs[0].Reason != contract.ReasonKicked || evs[0].Participant.User.ID != "bob" {
			t.Fatalf("events = %+v, want one left for c2 (bob), kicked", evs)
		}
		if leave(t, nc, "r1", "c2", contract.ReasonClosed) {
			t.Error("second leave: removed = true, want false")
		}
		if evs := events.take(); len(evs) != 0 {
			t.Fatalf("second leave: events = %+v, want none", evs)
		}
	})

	t.Run("empty reason means closed", func(t *testing.T) {
		leave(t, nc, "r1", "c0", "")
		if evs := events.take(); len(evs) != 1 || evs[0].Reason != contract.ReasonClosed {
			t.Fatalf("events = %+v, want one left, closed", evs)
		}
	})

	t.Run("an empty room lists no one, at the last leave's revision", func(t *testing.T) {
		leave(t, nc, "r1", "c1", contract.ReasonClosed)
		evs := events.take()
		if len(evs) != 1 || evs[0].Revision == 0 {
			t.Fatalf("events = %+v, want one left with a revision", evs)
		}
		msg, err := nc.Request(subject.PresenceList, []byte(`{"room_id":"r1"}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"room_id":"r1","participants":[],"revision":%d}`, evs[0].Revision); string(msg.Data) != want {
			t.Errorf("list = %s, want %s", msg.Data, want)
		}
	})

	t.Run("a room can be used again after it emptied", func(t *testing.T) {
		if rep := join(t, nc, "r1", "c3", "dave", "L1"); len(rep.Participants) != 0 {
			t.Fatalf("participants = %v, want []", ids(rep.Participants))
		}
		if got := ids(list(t, nc, "r1")); !slices.Equal(got, []string{"c3"}) {
			t.Fatalf("list = %v, want [c3]", got)
		}
	})
}

func TestBadRequests(t *testing.T) {
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "r1")

	joinReq := func(room, conn, user, gw, lease string) string {
		return fmt.Sprintf(`{"room_id":%q,"participant":{"connection_id":%q,"user":{"id":%q},"gateway_id":%q},"lease":%q}`,
			room, conn, user, gw, lease)
	}
	type tc struct {
		name, subject, payload string
	}
	var tests []tc
	for _, subj := range []string{subject.PresenceList, subject.PresenceJoin, subject.PresenceLeave, subject.PresenceHeartbeat} {
		tests = append(tests,
			tc{"not JSON", subj, `not json`},
			tc{"empty payload", subj, ``},
			tc{"JSON array", subj, `[1,2]`},
			tc{"empty object", subj, `{}`},
			tc{"null", subj, `null`},
		)
	}
	for _, room := range []string{"a.b", "*", ">", "a>", "", "a b"} {
		tests = append(tests,
			tc{"list room " + strconv.Quote(room), subject.PresenceList, fmt.Sprintf(`{"room_id":%q}`, room)},
			tc{"join room " + strconv.Quote(room), subject.PresenceJoin, joinReq(room, "c1", "u1", "g1", "L1")},
			tc{"leave room " + strconv.Quote(room), subject.PresenceLeave, fmt.Sprintf(`{"room_id":%q,"connection_id":"c1"}`, room)},
			tc{"join lease " + strconv.Quote(room), subject.PresenceJoin, joinReq("r1", "c1", "u1", "g1", room)},
			tc{"join gateway " + strconv.Quote(room), subject.PresenceJoin, joinReq("r1", "c1", "u1", room, "L1")},
			tc{"join connection " + strconv.Quote(room), subject.PresenceJoin, joinReq("r1", room, "u1", "g1", "L1")},
			tc{"leave connection " + strconv.Quote(room), subject.PresenceLeave, fmt.Sprintf(`{"room_id":"r1","connection_id":%q}`, room)},
			tc{"heartbeat lease " + strconv.Quote(room), subject.PresenceHeartbeat, fmt.Sprintf(`{"gateway_id":"g1","lease":%q}`, room)},
			tc{"heartbeat gateway " + strconv.Quote(room), subject.PresenceHeartbeat, fmt.Sprintf(`{"gateway_id":%q,"lease":"L1"}`, room)},
		)
	}
	tests = append(tests,
		tc{"list room id of the wrong type", subject.PresenceList, `{"room_id":5}`},
		tc{"join without connection id", subject.PresenceJoin, joinReq("r1", "", "u1", "g1", "L1")},
		tc{"join without user id", subject.PresenceJoin, joinReq("r1", "c1", "", "g1", "L1")},
		tc{"join with a participant of the wrong type", subject.PresenceJoin, `{"room_id":"r1","participant":"c1","lease":"L1"}`},
		tc{"join with a bad joined_at", subject.PresenceJoin, `{"room_id":"r1","participant":{"connection_id":"c1","user":{"id":"u"},"gateway_id":"g","joined_at":"yesterday"},"lease":"L1"}`},
		tc{"leave without connection id", subject.PresenceLeave, `{"room_id":"r1","reason":"closed"}`},
		tc{"leave with an unknown reason", subject.PresenceLeave, `{"room_id":"r1","connection_id":"c1","reason":"bored"}`},
		tc{"leave with a reason in capitals", subject.PresenceLeave, `{"room_id":"r1","connection_id":"c1","reason":"CLOSED"}`},
	)
	for _, tt := range tests {
		t.Run(tt.subject+" "+tt.name, func(t *testing.T) {
			msg, err := nc.Request(tt.subject, []byte(tt.payload), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if code := msg.Header.Get(micro.ErrorCodeHeader); code != "400" {
				t.Errorf("code = %q (%s), want 400", code, msg.Header.Get(micro.ErrorHeader))
			}
			if msg.Header.Get(micro.ErrorHeader) == "" {
				t.Error("no error description")
			}
		})
	}

	if evs := events.take(); len(evs) != 0 {
		t.Errorf("bad requests published events: %+v", evs)
	}
	if rep := join(t, nc, "r1", "c1", "u1", "L1"); len(rep.Participants) != 0 {
		t.Errorf("after bad requests: participants = %v, want [] (nothing stored)", ids(rep.Participants))
	}
	if got := ids(list(t, nc, "r1")); !slices.Equal(got, []string{"c1"}) {
		t.Errorf("after bad requests: list = %v, want [c1]", got)
	}
}

func TestConcurrentJoinsDiscoverEachOtherOnce(t *testing.T) {
	const n = 30
	s := natstest.Server(t)
	a := startService(t, s, testConfig, nil)
	b := startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "busy")

	replies := make([][]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			var rep contract.JoinReply
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errs[i] = rpc.Call(ctx, nc, subject.PresenceJoin, contract.JoinRequest{
				RoomID:      "busy",
				Participant: contract.Participant{ConnectionID: "c" + strconv.Itoa(i), User: contract.User{ID: "u" + strconv.Itoa(i)}, GatewayID: "g" + strconv.Itoa(i%3)},
				Lease:       "L" + strconv.Itoa(i%3),
			}, &rep)
			replies[i] = ids(rep.Participants)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("join c%d: %v", i, err)
		}
	}

	if got := list(t, nc, "busy"); len(got) != n {
		t.Fatalf("list has %d participants, want %d", len(got), n)
	}
	// Each join saw exactly the ones stored before it: n distinct sizes.
	sizes := map[int]bool{}
	for _, r := range replies {
		sizes[len(r)] = true
	}
	if len(sizes) != n {
		t.Errorf("reply sizes are not distinct: %d different sizes for %d joins", len(sizes), n)
	}
	in := func(i, j int) bool { return slices.Contains(replies[i], "c"+strconv.Itoa(j)) }
	for x := range n {
		if in(x, x) {
			t.Errorf("c%d's reply lists itself", x)
		}
		for y := x + 1; y < n; y++ {
			if in(x, y) == in(y, x) {
				t.Errorf("c%d and c%d: y in x's reply = %v, x in y's reply = %v; want exactly one", x, y, in(x, y), in(y, x))
			}
		}
	}
	evs := events.take()
	if len(evs) != n {
		t.Errorf("%d events, want %d joined", len(evs), n)
	}
	for i := range n {
		if c := count(evs, contract.EventJoined, "c"+strconv.Itoa(i)); c != 1 {
			t.Errorf("c%d: %d joined events, want 1", i, c)
		}
	}
	for _, svc := range []*Service{a, b} {
		if served := svc.svc.Stats().Endpoints; !slices.ContainsFunc(served, func(e *micro.EndpointStats) bool {
			return e.Subject == subject.PresenceJoin && e.NumRequests > 0
		}) {
			t.Errorf("instance %s served no join", svc.svc.Info().ID)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	if heartbeat(t, nc, "L1") {
		t.Error("first heartbeat: renewed = true, want false")
	}
	if !heartbeat(t, nc, "L1") {
		t.Error("second heartbeat: renewed = false, want true")
	}
	if heartbeat(t, nc, "L2") {
		t.Error("first heartbeat of another lease: renewed = true, want false")
	}
}

func TestLeaseExpiry(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(map[int]string{1: "one instance", 2: "two instances"}[instances], func(t *testing.T) {
			s := natstest.Server(t)
			var svcs []*Service
			for range instances {
				svcs = append(svcs, startService(t, s, testConfig, nil))
			}
			nc := natstest.Connect(t, s)
			events := watchRooms(t, nc, "ra", "rb")

			join(t, nc, "ra", "c1", "u1", "L1")
			join(t, nc, "ra", "c2", "u2", "L1")
			join(t, nc, "rb", "c3", "u3", "L1")
			join(t, nc, "ra", "c4", "u4", "L2")
			heartbeat(t, nc, "L1")

			// L2 keeps beating; L1 says nothing more.
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				tick := time.NewTicker(testConfig.LeaseTTL / 5)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					// Not heartbeat(): it may call t.Fatal, which only the
					// test's own goroutine may.
					var rep contract.HeartbeatReply
					err := rpc.Call(ctx, nc, subject.PresenceHeartbeat, contract.HeartbeatRequest{GatewayID: "gw-L2", Lease: "L2"}, &rep)
					if ctx.Err() != nil {
						return
					}
					if err != nil || !rep.Renewed {
						t.Errorf("L2 heartbeat: renewed = %v, err = %v; want renewed", rep.Renewed, err)
						return
					}
				}
			})
			defer wg.Wait()
			defer cancel()

			poll.Until(t, 10*time.Second, "left events for c1, c2 and c3", func() bool {
				evs := events.all()
				return count(evs, contract.EventLeft, "c1") > 0 && count(evs, contract.EventLeft, "c2") > 0 &&
					count(evs, contract.EventLeft, "c3") > 0
			})
			if heartbeat(t, nc, "L1") {
				t.Error("L1 heartbeat after its connections were reaped: renewed = true, want false")
			}
			if got := ids(list(t, nc, "ra")); !slices.Equal(got, []string{"c4"}) {
				t.Errorf("ra = %v, want [c4]", got)
			}
			if got := list(t, nc, "rb"); len(got) != 0 {
				t.Errorf("rb = %v, want []", ids(got))
			}

			// Give every instance a few more passes to get it wrong, then
			// stop them and make sure all they published has reached us
			// before counting.
			for _, svc := range svcs {
				target := svc.reapPasses.Load() + 3
				poll.Until(t, 5*time.Second, "three more reaper passes", func() bool {
					return svc.reapPasses.Load() >= target
				})
			}
			cancel()
			wg.Wait()
			for _, svc := range svcs {
				if err := svc.Stop(); err != nil {
					t.Fatal(err)
				}
				if err := svc.nc.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			evs := events.all()
			for _, c := range []string{"c1", "c2", "c3"} {
				if n := count(evs, contract.EventLeft, c); n != 1 {
					t.Errorf("%s: %d left events, want 1", c, n)
				}
			}
			for _, ev := range evs {
				if ev.Event == contract.EventLeft && ev.Reason != contract.ReasonGatewayLost {
					t.Errorf("left for %s: reason %q, want gateway_lost", ev.Participant.ConnectionID, ev.Reason)
				}
			}
			if n := count(evs, contract.EventLeft, "c4"); n != 0 {
				t.Errorf("c4 (lease kept alive): %d left events, want 0", n)
			}
		})
	}
}

func TestOrphanedEntriesAreReaped(t *testing.T) {
	s := natstest.Server(t)
	svc := startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	events := watchRooms(t, nc, "r1")

	// An instance that stopped between deleting a lease and removing its
	// entries leaves entries whose lease key is gone. They are removed
	// once older than the lease TTL; L8 keeps beating all along.
	join(t, nc, "r1", "old", "u", "L9")
	join(t, nc, "r1", "alive", "u", "L8")
	if err := svc.kv.Delete(context.Background(), leaseKey("L9")); err != nil {
		t.Fatal(err)
	}
	events.take()
	var beat time.Time
	poll.Until(t, 5*time.Second, "left for the orphan", func() bool {
		if time.Since(beat) > testConfig.LeaseTTL/5 {
			heartbeat(t, nc, "L8")
			beat = time.Now()
		}
		return count(events.all(), contract.EventLeft, "old") == 1
	})
	if got := ids(list(t, nc, "r1")); !slices.Equal(got, []string{"alive"}) {
		t.Errorf("list = %v, want [alive]", got)
	}
	for _, ev := range events.all() {
		if ev.Event == contract.EventLeft && (ev.Participant.ConnectionID != "old" || ev.Reason != contract.ReasonGatewayLost) {
			t.Errorf("left event %+v, want only old's, gateway_lost", ev.PresenceEvent)
		}
	}
}

func TestPing(t *testing.T) {
	s := natstest.Server(t)
	startService(t, s, testConfig, nil)
	nc := natstest.Connect(t, s)
	ping := call[micro.Ping](t, nc, subject.ServicePing(subject.PresenceService), struct{}{})
	if ping.Name != subject.PresenceService || ping.Version != "0.1.0" {
		t.Errorf("ping = %+v, want presence 0.1.0", ping)
	}
}

func TestStop(t *testing.T) {
	s := natstest.Server(t)
	nc := natstest.Connect(t, s)
	svc, err := Start(context.Background(), natstest.Connect(t, s), testConfig, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	join(t, nc, "r1", "c1", "u", "L1")
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	poll.Until(t, 5*time.Second, "no responders after Stop", func() bool {
		_, err := nc.Request(subject.PresenceList, []byte(`{"room_id":"r1"}`), time.Second)
		return errors.Is(err, nats.ErrNoResponders)
	})
}

func TestStartRefusesNegativeDurations(t *testing.T) {
	s := natstest.Server(t)
	nc := natstest.Connect(t, s)
	for _, cfg := range []Config{{LeaseTTL: -time.Second}, {ReapInterval: -time.Second}} {
		if _, err := Start(context.Background(), nc, cfg, nil, nil); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Start(%+v) err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}
