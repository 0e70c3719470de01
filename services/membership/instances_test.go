package membership

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// requests returns how many requests the instance's endpoint has served.
func requests(svc *Service, endpoint string) int {
	for _, e := range svc.svc.Stats().Endpoints {
		if e.Name == endpoint {
			return e.NumRequests
		}
	}
	return 0
}

// pingIDs sends $SRV.PING.membership and returns the ids of the instances
// that answer within wait.
func pingIDs(t *testing.T, nc *nats.Conn, wait time.Duration) map[string]bool {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subject.ServicePing(subject.MembershipService), inbox, nil); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	deadline := time.Now().Add(wait)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return ids
		}
		var ping micro.Ping
		if err := json.Unmarshal(msg.Data, &ping); err != nil {
			t.Fatalf("ping reply %s: %v", msg.Data, err)
		}
		if ping.Name != subject.MembershipService || ping.Version != Version {
			t.Errorf("ping reply %+v, want membership %s", ping, Version)
		}
		ids[ping.ID] = true
	}
}

func TestTwoInstances(t *testing.T) {
	s := natstest.Server(t)
	svcs := []*Service{
		startService(t, natstest.Connect(t, s), Config{}),
		startService(t, natstest.Connect(t, s), Config{}),
	}
	clients := []*nats.Conn{natstest.Connect(t, s), natstest.Connect(t, s)}

	t.Run("both answer discovery", func(t *testing.T) {
		poll.Until(t, 5*time.Second, "two instances answering $SRV.PING.membership", func() bool {
			return len(pingIDs(t, clients[0], 200*time.Millisecond)) == 2
		})
	})

	t.Run("both serve requests", func(t *testing.T) {
		poll.Until(t, 10*time.Second, "both instances serving rooms.get", func() bool {
			if _, err := getRoom(t, clients[0], "nowhere"); code(err) != 404 {
				t.Fatalf("get: %v, want 404", err)
			}
			return requests(svcs[0], "rooms-get") > 0 && requests(svcs[1], "rooms-get") > 0
		})
	})

	t.Run("concurrent adds all land", func(t *testing.T) {
		id := seed(t, clients[0], "alice", contract.PolicyMembers)
		const users = 20
		var wg sync.WaitGroup
		errs := make(chan error, users)
		for i := range users {
			wg.Go(func() {
				req := contract.MemberRequest{RoomID: id, UserID: fmt.Sprintf("user-%02d", i)}
				errs <- request(t, clients[i%2], subject.MembershipMembersAdd, mustJSON(req), &contract.Room{})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("add: %v", err)
			}
		}
		room, err := getRoom(t, clients[1], id)
		if err != nil {
			t.Fatal(err)
		}
		want := []contract.Member{owner("alice")}
		for i := range users {
			want = append(want, member(fmt.Sprintf("user-%02d", i)))
		}
		got := slices.Clone(room.Members)
		slices.SortFunc(got[1:], func(a, b contract.Member) int { return strings.Compare(a.UserID, b.UserID) })
		if !slices.Equal(got, want) {
			t.Errorf("members = %v, want %v", room.Members, want)
		}
	})
}

func TestConcurrentDeletes(t *testing.T) {
	s := natstest.Server(t)
	startService(t, natstest.Connect(t, s), Config{})
	startService(t, natstest.Connect(t, s), Config{})
	clients := []*nats.Conn{natstest.Connect(t, s), natstest.Connect(t, s)}

	for range 5 {
		id := seed(t, clients[0], "alice", contract.PolicyOpen)
		var wg sync.WaitGroup
		codes := make(chan int, 2)
		for i := range 2 {
			wg.Go(func() {
				codes <- code(request(t, clients[i], subject.MembershipRoomsDelete, mustJSON(contract.RoomRequest{RoomID: id}), &struct{}{}))
			})
		}
		wg.Wait()
		close(codes)
		var got []int
		for c := range codes {
			got = append(got, c)
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{0, 404}) {
			t.Errorf("two concurrent deletes of %s: codes %v, want one success and one 404", id, got)
		}
	}
}

// TestStoreNoLostUpdates makes concurrent writers of one room conflict, so
// that the compare-and-set retries run, and checks that every write lands.
func TestStoreNoLostUpdates(t *testing.T) {
	s := natstest.Server(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var stores []*store
	for range 2 {
		js, err := jetstream.New(natstest.Connect(t, s))
		if err != nil {
			t.Fatal(err)
		}
		st, err := openStore(ctx, js)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st)
	}
	room := &contract.Room{RoomID: "busy", OwnerID: "alice", Policy: contract.PolicyOpen, Members: []contract.Member{owner("alice")}}
	if err := stores[0].create(ctx, room); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := stores[i%2].update(ctx, room.RoomID, func(r *contract.Room) (bool, error) {
				r.Members = append(r.Members, member(fmt.Sprint(i)))
				return true, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("update: %v", err)
		}
	}
	got, _, err := stores[1].get(ctx, room.RoomID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != writers+1 {
		t.Errorf("room has %d members after %d concurrent adds, want %d: %v", len(got.Members), writers, writers+1, got.Members)
	}
}

func TestRoomsSurviveRestart(t *testing.T) {
	s := natstest.Server(t)
	svcConn := natstest.Connect(t, s)
	nc := natstest.Connect(t, s)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	first, err := Start(ctx, svcConn, Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := seed(t, nc, "alice", contract.PolicyMembers, member("bob"))
	before, err := getRoom(t, nc, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	poll.Until(t, 5*time.Second, "no instance answering", func() bool {
		return len(pingIDs(t, nc, 50*time.Millisecond)) == 0
	})

	startService(t, svcConn, Config{})
	after, err := getRoom(t, nc, id)
	if err != nil {
		t.Fatalf("get after restart: %v", err)
	}
	checkRoom(t, after, before)
	if !after.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("created_at after restart = %v, want %v", after.CreatedAt, before.CreatedAt)
	}
}

func TestDiscovery(t *testing.T) {
	nc := newService(t, Config{})

	msg, err := nc.Request(subject.ServicePing(subject.MembershipService), nil, 5*time.Second)
	if err != nil {
		t.Fatalf("$SRV.PING.membership: %v", err)
	}
	var ping micro.Ping
	if err := json.Unmarshal(msg.Data, &ping); err != nil {
		t.Fatal(err)
	}
	if ping.Name != "membership" || ping.Version != "0.1.0" {
		t.Errorf("ping = %+v, want membership 0.1.0", ping)
	}

	msg, err = nc.Request("$SRV.INFO.membership", nil, 5*time.Second)
	if err != nil {
		t.Fatalf("$SRV.INFO.membership: %v", err)
	}
	var info micro.Info
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range info.Endpoints {
		got = append(got, e.Subject)
		if e.QueueGroup != micro.DefaultQueueGroup {
			t.Errorf("endpoint %s queue group %q, want %q", e.Subject, e.QueueGroup, micro.DefaultQueueGroup)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(endpointSubjects))
	if !slices.Equal(got, want) {
		t.Errorf("endpoint subjects = %v, want %v", got, want)
	}
}
