package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

func (c *cluster) presence(room string) []contract.Participant {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rep contract.PresenceList
	if err := rpc.Call(ctx, c.nc, subject.PresenceList, contract.RoomRequest{RoomID: room}, &rep); err != nil {
		c.t.Fatal(err)
	}
	return rep.Participants
}

// TestPresenceJoinLeave checks welcome participants, joined and left.
func TestPresenceJoinLeave(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g1 := c.gateway(gateway.Config{GatewayID: "gw1"})
	g2 := c.gateway(gateway.Config{GatewayID: "gw2"})
	alice, aw := g1.native(t, "p", "alice")
	bob, bw := g2.native(t, "p", "bob")
	if got := alice.expect("joined"); got.Participant.ConnectionID != bw.ConnectionID || got.Participant.JoinedAt == "" {
		t.Fatalf("joined: %s", got.raw)
	}
	ps := c.presence("p")
	if len(ps) != 2 || ps[0].ConnectionID != aw.ConnectionID || ps[0].GatewayID != "gw1" || ps[1].GatewayID != "gw2" {
		t.Fatalf("presence.list: %+v", ps)
	}
	bob.ws.CloseNow()
	if got := alice.expect("left"); got.Participant.ConnectionID != bw.ConnectionID || got.Reason != "closed" || got.Participant.User.ID != "bob" {
		t.Fatalf("left: %s", got.raw)
	}
	poll.Until(t, 5*time.Second, "bob gone from presence", func() bool { return len(c.presence("p")) == 1 })
}

// TestExactlyOnceDiscovery joins many clients at once through two gateways:
// each must learn of every other exactly once, by welcome or joined. It runs
// again with resyncs every 50ms racing the joins: they must add nothing.
func TestExactlyOnceDiscovery(t *testing.T) {
	for name, resync := range map[string]time.Duration{"events only": 0, "with resyncs": 50 * time.Millisecond} {
		t.Run(name, func(t *testing.T) { exactlyOnce(t, resync) })
	}
}

func exactlyOnce(t *testing.T, resync time.Duration) {
	c := newCluster(t, options{openRooms: true})
	gws := []*gw{
		c.gateway(gateway.Config{GatewayID: "gw1", ResyncInterval: resync}),
		c.gateway(gateway.Config{GatewayID: "gw2", ResyncInterval: resync}),
	}
	const n = 16
	type joiner struct {
		cl    *client
		id    string
		known map[string]int
	}
	js := make([]*joiner, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := dial(t, gws[i%2].ws(fmt.Sprintf("/v1/rooms/crowd/ws?access_token=%s", token(t, fmt.Sprintf("u%d", i)))))
			js[i] = &joiner{cl: cl}
		}()
	}
	wg.Wait()
	for _, j := range js {
		w := j.cl.expect("welcome")
		j.id = w.ConnectionID
		j.known = map[string]int{}
		for _, p := range w.Participants {
			j.known[p.ConnectionID]++
		}
	}
	for _, j := range js {
		for len(j.known) < n-1 {
			p := j.cl.expect("joined")
			j.known[p.Participant.ConnectionID]++
		}
	}
	// Nothing more may be pending: a marker must be the next packet.
	js[0].cl.signal(`"marker"`, "", "")
	for i, j := range js {
		if i > 0 {
			if p := j.cl.expect("signal"); string(p.Data) != `"marker"` {
				t.Fatalf("client %d: %s", i, p.raw)
			}
		}
		for _, o := range js {
			if o == j {
				if j.known[o.id] != 0 {
					t.Fatalf("client %d was told about itself", i)
				}
				continue
			}
			if j.known[o.id] != 1 {
				t.Fatalf("client %d learned of %s %d times", i, o.id, j.known[o.id])
			}
		}
	}
}

// TestGatewayKilled runs a gateway as its own process, kills it with
// SIGKILL, and expects presence to remove its connections with left
// (gateway_lost) within 15 seconds.
func TestGatewayKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a gateway process")
	}
	bin := filepath.Join(t.TempDir(), "gateway")
	build := exec.Command("go", "build", "-o", bin, "github.com/switchboard-rtc/switchboard/services/gateway/cmd/gateway")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build gateway: %v\n%s", err, out)
	}
	c := newCluster(t, options{openRooms: true})
	local := c.gateway(gateway.Config{GatewayID: "survivor"})
	watcher, _ := local.native(t, "k", "watcher")

	addr := freeAddr(t)
	proc := exec.Command(bin)
	proc.Env = append(os.Environ(),
		"SWITCHBOARD_NATS_URL="+c.ns.ClientURL(),
		"SWITCHBOARD_JWT_SECRET="+string(secret),
		"SWITCHBOARD_HTTP_ADDR="+addr,
		"SWITCHBOARD_GATEWAY_ID=doomed")
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })
	url := "ws://" + addr
	poll.Until(t, 10*time.Second, "the gateway process to listen", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	victims := map[string]bool{}
	for _, u := range []string{"v1", "v2"} {
		cl := dial(t, url+"/v1/rooms/k/ws?access_token="+token(t, u))
		victims[cl.expect("welcome").ConnectionID] = true
		watcher.expect("joined")
	}

	if err := proc.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for range victims {
		l := watcher.expect("left")
		if !victims[l.Participant.ConnectionID] || l.Reason != "gateway_lost" {
			t.Fatalf("left: %s", l.raw)
		}
		delete(victims, l.Participant.ConnectionID)
	}
	took := time.Since(killed)
	if took > 15*time.Second {
		t.Fatalf("gateway loss took %v to clean up, the contract says 15s", took)
	}
	t.Logf("connections of a SIGKILLed gateway removed %v after the kill", took.Round(100*time.Millisecond))
	if ps := c.presence("k"); len(ps) != 1 || !strings.HasPrefix(ps[0].GatewayID, "survivor") {
		t.Fatalf("presence after the loss: %+v", ps)
	}
}

// TestRemovedFromPresenceIsClosed removes a live connection from presence
// (as a reaper or an operator would): its gateway closes it with 1001 so
// the client reconnects and is registered again.
func TestRemovedFromPresenceIsClosed(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	w, _ := g.native(t, "rm", "watcher")
	v, vw := g.native(t, "rm", "victim")
	w.expect("joined")
	codes := make(chan websocket.StatusCode, 1)
	go func() { codes <- v.closeStatus() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := contract.LeaveRequest{RoomID: "rm", ConnectionID: vw.ConnectionID, Reason: contract.ReasonGatewayLost}
	if err := rpc.Call(ctx, c.nc, subject.PresenceLeave, req, nil); err != nil {
		t.Fatal(err)
	}
	if l := w.expect("left"); l.Participant.ConnectionID != vw.ConnectionID || l.Reason != "gateway_lost" {
		t.Fatalf("left: %s", l.raw)
	}
	if code := <-codes; code != websocket.StatusGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
}

// TestRevokedMemberIsKicked removes a member, then deletes the room: the
// revoked connections are closed with 1008 and the room hears left
// (kicked), in both dialects.
func TestRevokedMemberIsKicked(t *testing.T) {
	c := newCluster(t, options{})
	c.createRoom("club", "owner", contract.PolicyMembers, "alice", "bob")
	g := c.gateway(gateway.Config{})
	owner, _ := g.native(t, "club", "owner")
	alice, aw := g.native(t, "club", "alice")
	owner.expect("joined")
	bob, _ := g.dyson(t, "club", "bob")
	owner.expect("joined")
	alice.expect("joined")

	codes := make(chan websocket.StatusCode, 2)
	for _, cl := range []*client{alice, bob} {
		go func() { codes <- cl.closeStatus() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rpc.Call(ctx, c.nc, subject.MembershipMembersRemove, contract.MemberRequest{RoomID: "club", UserID: "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	if l := owner.expect("left"); l.Participant.ConnectionID != aw.ConnectionID || l.Reason != "kicked" {
		t.Fatalf("left: %s", l.raw)
	}
	if code := <-codes; code != websocket.StatusPolicyViolation {
		t.Fatalf("alice's close code %d, want 1008", code)
	}
	checkNative(t, g.srv.URL+"/v1/rooms/club/ws?access_token="+token(t, "alice"), nil, false, 403, "forbidden")

	if err := rpc.Call(ctx, c.nc, subject.MembershipRoomsDelete, contract.RoomRequest{RoomID: "club"}, nil); err != nil {
		t.Fatal(err)
	}
	if code := <-codes; code != websocket.StatusPolicyViolation {
		t.Fatalf("bob's close code %d, want 1008", code)
	}
	if code := owner.closeStatus(); code != websocket.StatusPolicyViolation {
		t.Fatalf("owner's close code %d, want 1008", code)
	}
	poll.Until(t, 5*time.Second, "the room emptied", func() bool { return len(c.presence("club")) == 0 })
}

// TestResyncRepairsLostEvents changes presence's store behind everyone's
// back, as if the joined and left events had been lost on the way: the
// gateway's periodic resync tells its clients all the same, once.
func TestResyncRepairsLostEvents(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{ResyncInterval: 100 * time.Millisecond})
	w, _ := g.native(t, "lost", "watcher")
	d, _ := g.dyson(t, "lost", "dora")
	w.expect("joined")

	js, err := jetstream.New(c.nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), "presence")
	if err != nil {
		t.Fatal(err)
	}
	// Presence keeps one key per connection: rooms.<room_id>.<connection_id>.
	// Writing and purging one by hand announces nothing.
	ghost := []byte(`{"connection_id":"c_ghost","user":{"id":"ghost"},"gateway_id":"elsewhere","joined_at":"` +
		time.Now().UTC().Format(time.RFC3339Nano) + `","lease":"somelease"}`)
	if _, err := kv.Create(context.Background(), "rooms.lost.c_ghost", ghost); err != nil {
		t.Fatal(err)
	}
	if j := w.expect("joined"); j.Participant.ConnectionID != "c_ghost" {
		t.Fatalf("watcher: %s", j.raw)
	}
	if j := d.next().dyson(t); j.Type != "user-joined" || j.AccountID != "ghost" {
		t.Fatalf("dora: %+v", j)
	}
	if err := kv.Purge(context.Background(), "rooms.lost.c_ghost"); err != nil {
		t.Fatal(err)
	}
	if l := w.expect("left"); l.Participant.ConnectionID != "c_ghost" {
		t.Fatalf("watcher: %s", l.raw)
	}
	if l := d.next().dyson(t); l.Type != "user-left" || l.AccountID != "ghost" {
		t.Fatalf("dora: %+v", l)
	}
	// Told once: the next thing the watcher reads is dora's signal.
	d.sendRaw(`{"data":{"type":"ping"}}`)
	if s := w.expect("signal"); s.From.User.ID != "dora" {
		t.Fatalf("watcher: %s", s.raw)
	}
}

// TestPresenceDownCloses1011 connects while no presence service runs: the
// upgrade succeeds (membership said yes) but registration fails, and the
// socket is closed with 1011 rather than left half in the room.
func TestPresenceDownCloses1011(t *testing.T) {
	c := newCluster(t, options{openRooms: true, noPresence: true})
	g := c.gateway(gateway.Config{JoinTimeout: 500 * time.Millisecond})
	cl := dial(t, g.ws("/v1/rooms/np/ws?access_token="+token(t, "alice")))
	if code := cl.closeStatus(); code != websocket.StatusInternalError {
		t.Fatalf("close code %d, want 1011", code)
	}
}
