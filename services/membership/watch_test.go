package membership

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natsembed"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
)

// converge bounds how long a change may take to reach another instance in
// these tests: the watch normally delivers in milliseconds, and when the
// watch fails the instance reads the bucket after maxStale at the latest.
const converge = 10 * time.Second

// authorizeAt asks svc itself (not whichever instance NATS picks) whether
// user may enter room.
func authorizeAt(t *testing.T, svc *Service, room, user string) (*contract.AuthorizeReply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rpc.Timeout)
	defer cancel()
	return svc.h.authorize(ctx, &contract.AuthorizeRequest{RoomID: room, UserID: user})
}

// allowed is authorizeAt that fails the test on an error.
func allowed(t *testing.T, svc *Service, room, user string) bool {
	t.Helper()
	rep, err := authorizeAt(t, svc, room, user)
	if err != nil {
		t.Fatalf("authorize %s in %s: %v", user, room, err)
	}
	return rep.Allowed
}

// cachedRoles returns the roles svc's cache holds for room, and whether
// the cache is current and holds the room.
func cachedRoles(svc *Service, room string) (map[string]string, bool) {
	a, ok := svc.h.store.cache.lookup(room)
	if !ok || a == nil {
		return nil, false
	}
	roles := map[string]string{}
	for _, m := range a.few {
		if _, dup := roles[m.UserID]; !dup {
			roles[m.UserID] = m.Role
		}
	}
	for u, r := range a.roles {
		roles[u] = r
	}
	return roles, true
}

// operator opens JetStream and the rooms bucket on nc, as an operator
// with the nats CLI would.
func operator(t *testing.T, nc *nats.Conn) (jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, Bucket)
	if err != nil {
		t.Fatal(err)
	}
	return js, kv
}

// roomJSON is a members room owned by alice, with members, as stored.
func roomJSON(id string, members ...string) string {
	r := contract.Room{RoomID: id, OwnerID: "alice", Policy: contract.PolicyMembers, Members: []contract.Member{owner("alice")}}
	for _, m := range members {
		r.Members = append(r.Members, member(m))
	}
	return mustJSON(r)
}

// put stores value under key in kv and returns its revision.
func put(t *testing.T, kv jetstream.KeyValue, key, value string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rev, err := kv.Put(ctx, key, []byte(value))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return rev
}

// cachedRev returns the revision svc's cache holds for room, 0 for none.
func cachedRev(svc *Service, room string) uint64 {
	svc.h.store.cache.mu.RLock()
	defer svc.h.store.cache.mu.RUnlock()
	return svc.h.store.cache.rooms[room].rev
}

// call runs one handler of svc directly.
func call[Req, Rep any](t *testing.T, f func(context.Context, *Req) (*Rep, error), req Req) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rpc.Timeout)
	defer cancel()
	if _, err := f(ctx, &req); err != nil {
		t.Fatalf("%+v: %v", req, err)
	}
}

// TestWritesReachOtherInstances makes each change through instance A and
// waits for instance B to answer accordingly, from its cache.
func TestWritesReachOtherInstances(t *testing.T) {
	s := natstest.Server(t)
	a := startService(t, natstest.Connect(t, s), Config{})
	b := startService(t, natstest.Connect(t, s), Config{})

	call(t, a.h.createRoom, contract.CreateRoomRequest{RoomID: "team", OwnerID: "alice", Policy: contract.PolicyMembers})
	poll.Until(t, converge, "B to let the owner of a room created through A in", func() bool {
		return allowed(t, b, "team", "alice")
	})

	call(t, a.h.addMember, contract.MemberRequest{RoomID: "team", UserID: "bob"})
	poll.Until(t, converge, "B to let a member added through A in", func() bool {
		return allowed(t, b, "team", "bob")
	})

	call(t, a.h.removeMember, contract.MemberRequest{RoomID: "team", UserID: "bob"})
	poll.Until(t, converge, "B to refuse a member removed through A", func() bool {
		return !allowed(t, b, "team", "bob")
	})
	if roles, ok := cachedRoles(b, "team"); !ok || roles["bob"] != "" || roles["alice"] != contract.RoleOwner {
		t.Errorf("B's cache holds %v (%t), want the room without bob", roles, ok)
	}

	call(t, a.h.deleteRoom, contract.RoomRequest{RoomID: "team"})
	poll.Until(t, converge, "B to refuse the owner of a room deleted through A", func() bool {
		rep, err := authorizeAt(t, b, "team", "alice")
		if err != nil {
			t.Fatal(err)
		}
		return !rep.Allowed && rep.Reason == reasonNoRoom
	})
	if !b.h.store.cache.current() {
		t.Error("B answered, but not from its cache")
	}
}

// TestOperatorWrites writes to the bucket directly, as an operator with the
// nats CLI would, and checks that the instance follows, and that a value
// it cannot use fails closed.
func TestOperatorWrites(t *testing.T) {
	s := natstest.Server(t)
	svc := startService(t, natstest.Connect(t, s), Config{OpenRooms: true})
	_, kv := operator(t, natstest.Connect(t, s))

	put(t, kv, "ops", roomJSON("ops", "bob"))
	poll.Until(t, converge, "a room put into the bucket to let its member in", func() bool {
		_, ok := cachedRoles(svc, "ops")
		return ok
	})
	if !allowed(t, svc, "ops", "bob") || allowed(t, svc, "ops", "mallory") {
		t.Error("the room put into the bucket is not applied as stored")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := kv.Purge(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, converge, "a purged room to be gone", func() bool {
		a, ok := svc.h.store.cache.lookup("ops")
		return ok && a == nil
	})
	if !allowed(t, svc, "ops", "mallory") {
		t.Error("with open rooms, a purged room is not open to all")
	}

	// Values this service would never store: the room must stay shut, not
	// be taken for missing (which, with open rooms, would let anyone in).
	bad := map[string]string{
		"unknown policy": `{"room_id":"odd","owner_id":"alice","policy":"public","members":[{"user_id":"alice","role":"owner"}]}`,
		"not JSON":       `not a room`,
		"bad created_at": `{"room_id":"odd","policy":"open","created_at":"yesterday"}`,
	}
	for name, value := range bad {
		t.Run(name, func(t *testing.T) {
			rev := put(t, kv, "odd", value)
			poll.Until(t, converge, "the value to reach the cache", func() bool {
				return svc.h.store.cache.current() && cachedRev(svc, "odd") == rev
			})
			rep, err := authorizeAt(t, svc, "odd", "alice")
			if err == nil {
				t.Fatalf("authorize = %+v, want a failure", rep)
			}
			var re *rpc.Error
			if errors.As(err, &re) {
				t.Fatalf("authorize refused with %v, want an internal error (500)", err)
			}
			// And over NATS: a 500.
			var got contract.AuthorizeReply
			err = request(t, natstest.Connect(t, s), "membership.authorize", `{"room_id":"odd","user_id":"alice"}`, &got)
			if code(err) != 500 {
				t.Errorf("authorize over NATS: %v (%+v), want 500", err, got)
			}
		})
	}
}

// consumers returns the names of the consumers on the rooms bucket's
// stream: the instances' watches.
func consumers(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "KV_"+Bucket)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	l := st.ConsumerNames(ctx)
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestWatchRecoversFromLostConsumer deletes the consumers behind the
// instances' watches. Until the watch is back, the instance must not answer
// from what it held before: a member removed meanwhile is refused within
// the staleness bound, and the watch then resumes.
func TestWatchRecoversFromLostConsumer(t *testing.T) {
	s := natstest.Server(t)
	svc := startService(t, natstest.Connect(t, s), Config{})
	js, kv := operator(t, natstest.Connect(t, s))
	put(t, kv, "lost", roomJSON("lost", "bob"))
	poll.Until(t, converge, "bob to be let in", func() bool { return allowed(t, svc, "lost", "bob") })

	names := consumers(t, js)
	if len(names) == 0 {
		t.Fatal("no consumer behind the watch")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, n := range names {
		if err := js.DeleteConsumer(ctx, "KV_"+Bucket, n); err != nil {
			t.Fatal(err)
		}
	}

	put(t, kv, "lost", roomJSON("lost"))
	poll.Until(t, converge, "bob, removed while the watch was lost, to be refused", func() bool {
		return !allowed(t, svc, "lost", "bob")
	})

	put(t, kv, "lost", roomJSON("lost", "carol"))
	poll.Until(t, converge, "the watch to deliver again", func() bool {
		roles, ok := cachedRoles(svc, "lost")
		return ok && roles["carol"] == contract.RoleMember
	})
	if allowed(t, svc, "lost", "bob") || !allowed(t, svc, "lost", "carol") {
		t.Error("after the watch recovered, the instance does not answer as the bucket says")
	}
}

// restartable is an embedded NATS server that can be restarted on the same
// port with the same storage.
type restartable struct {
	tb   testing.TB
	dir  string
	port int
	s    *server.Server
}

func newRestartable(tb testing.TB) *restartable {
	r := &restartable{tb: tb, dir: tb.TempDir(), port: -1}
	r.start()
	r.port = r.s.Addr().(*net.TCPAddr).Port
	tb.Cleanup(r.stop)
	return r
}

func (r *restartable) start() {
	s, err := natsembed.Start(natsembed.Options{Host: "127.0.0.1", Port: r.port, StoreDir: r.dir, Name: "restartable"})
	if err != nil {
		r.tb.Fatal(err)
	}
	r.s = s
}

func (r *restartable) stop() {
	r.s.Shutdown()
	r.s.WaitForShutdown()
}

// connect connects to the server, reconnecting every wait.
func (r *restartable) connect(wait time.Duration) *nats.Conn {
	return natstest.ConnectURL(r.tb, r.s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(wait))
}

// TestWatchRecoversFromServerRestart restarts the NATS server under two
// instances: JetStream keeps the bucket, the watches' consumers are gone,
// the connections reconnect. A reconnects at once and removes a member; B
// reconnects later, so its cache missed the removal. B must never let the
// member in again, and its cache must serve again.
func TestWatchRecoversFromServerRestart(t *testing.T) {
	r := newRestartable(t)
	ctx, cancel := context.WithTimeout(t.Context(), converge)
	defer cancel()
	var svcs []*Service
	for _, wait := range []time.Duration{20 * time.Millisecond, time.Second} {
		svc, err := Start(ctx, r.connect(wait), Config{}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
		svcs = append(svcs, svc)
	}
	a, b := svcs[0], svcs[1]
	call(t, a.h.createRoom, contract.CreateRoomRequest{RoomID: "restart", OwnerID: "alice", Policy: contract.PolicyMembers})
	call(t, a.h.addMember, contract.MemberRequest{RoomID: "restart", UserID: "bob"})
	poll.Until(t, converge, "B's cache to let bob in", func() bool {
		roles, ok := cachedRoles(b, "restart")
		return ok && roles["bob"] == contract.RoleMember
	})

	r.stop()
	r.start()

	// JetStream takes a moment to come back; A's write is retried until it
	// lands.
	poll.Until(t, converge, "A to remove bob after the restart", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := a.h.removeMember(ctx, &contract.MemberRequest{RoomID: "restart", UserID: "bob"})
		return err == nil
	})
	poll.Until(t, converge, "B's cache to serve again", func() bool {
		rep, err := authorizeAt(t, b, "restart", "bob")
		if err == nil && rep.Allowed {
			t.Fatal("B let bob in after his removal")
		}
		return b.h.store.cache.current()
	})
	if allowed(t, b, "restart", "bob") {
		t.Fatal("B lets bob in after his removal")
	}
	if roles, ok := cachedRoles(b, "restart"); !ok || roles["bob"] != "" {
		t.Errorf("B's cache after the restart holds %v (%t), want the room without bob", roles, ok)
	}

	_, kv := operator(t, r.connect(time.Second))
	put(t, kv, "restart", roomJSON("restart", "carol"))
	poll.Until(t, converge, "B's watch to deliver a write made after the restart", func() bool {
		roles, ok := cachedRoles(b, "restart")
		return ok && roles["carol"] == contract.RoleMember
	})
}

// TestWatchFollowsRecreatedBucket deletes the bucket under a running
// instance and creates it again with other rooms: the instance must answer
// by the new bucket, never by what it held of the old one.
func TestWatchFollowsRecreatedBucket(t *testing.T) {
	s := natstest.Server(t)
	svc := startService(t, natstest.Connect(t, s), Config{})
	js, kv := operator(t, natstest.Connect(t, s))
	put(t, kv, "gone", roomJSON("gone", "bob"))
	poll.Until(t, converge, "bob to be let in", func() bool { return allowed(t, svc, "gone", "bob") })

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := js.DeleteKeyValue(ctx, Bucket); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, converge, "bob to be refused while the bucket is gone", func() bool {
		rep, err := authorizeAt(t, svc, "gone", "bob")
		return err != nil || !rep.Allowed
	})
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	put(t, kv, "gone", roomJSON("gone", "carol"))
	poll.Until(t, converge, "the cache to hold the new bucket's room", func() bool {
		roles, ok := cachedRoles(svc, "gone")
		return ok && roles["carol"] == contract.RoleMember
	})
	if allowed(t, svc, "gone", "bob") || !allowed(t, svc, "gone", "carol") {
		t.Error("the instance does not answer by the new bucket")
	}
}
