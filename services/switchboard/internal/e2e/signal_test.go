package e2e

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/shared/poll"
)

// TestRelayNative relays an offer, an answer and 50 candidates between two
// native clients, in order, with the sender stamped and data untouched.
func TestRelayNative(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	alice, aw := g.native(t, "call1", "alice")
	if len(aw.Participants) != 0 || aw.RoomID != "call1" || aw.User.ID != "alice" || aw.ConnectionID == "" {
		t.Fatalf("alice's welcome: %s", aw.raw)
	}
	bob, bw := g.native(t, "call1", "bob")
	if len(bw.Participants) != 1 || bw.Participants[0].ConnectionID != aw.ConnectionID || bw.Participants[0].User.ID != "alice" {
		t.Fatalf("bob's welcome does not list alice: %s", bw.raw)
	}
	if j := alice.expect("joined"); j.Participant.ConnectionID != bw.ConnectionID || j.Participant.User.ID != "bob" {
		t.Fatalf("alice's joined: %s", j.raw)
	}

	offer := `{"kind":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 0.0.0.0","big":9007199254740993,  "spaced" : [ 1 ]}`
	alice.signal(offer, "", "")
	s := bob.expect("signal")
	if string(s.Data) != offer {
		t.Fatalf("data changed in transit:\n got %s\nwant %s", s.Data, offer)
	}
	if s.From.ConnectionID != aw.ConnectionID || s.From.User.ID != "alice" {
		t.Fatalf("sender not stamped: %s", s.raw)
	}
	bob.signal(`{"kind":"answer","sdp":"v=0"}`, aw.ConnectionID, "")
	if a := alice.expect("signal"); a.To != aw.ConnectionID || a.From.User.ID != "bob" {
		t.Fatalf("answer: %s", a.raw)
	}
	for i := range 50 {
		alice.signal(`{"kind":"candidate","n":`+strconv.Itoa(i)+`}`, bw.ConnectionID, "")
	}
	for i := range 50 {
		got := bob.expect("signal")
		if want := `{"kind":"candidate","n":` + strconv.Itoa(i) + `}`; string(got.Data) != want {
			t.Fatalf("candidate %d: got %s, want %s", i, got.Data, want)
		}
	}
}

// TestRelayDyson relays an offer, an answer and 50 candidates between two
// Dyson clients.
func TestRelayDyson(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	alice, aw := g.dyson(t, "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "alice")
	if aw.UserID != "alice" || aw.RoomID != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" || len(aw.Participants) != 0 ||
		aw.Message != "Connected to call of #3f2504e0-4f89-11d3-9a0c-0305e82c3301." || aw.Timestamp == "" {
		t.Fatalf("alice's welcome: %+v", aw)
	}
	bob, bw := g.dyson(t, "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "bob")
	if len(bw.Participants) != 1 || bw.Participants[0].AccountID != "alice" || bw.Participants[0].Identity != "alice" ||
		bw.Participants[0].Account.Name != "Alice" || bw.Participants[0].JoinedAt == "" {
		t.Fatalf("bob's welcome: %+v", bw)
	}
	if j := alice.next().dyson(t); j.Type != "user-joined" || j.AccountID != "bob" || j.To != nil || string(j.Data) != "{}" {
		t.Fatalf("alice's user-joined: %+v", j)
	}

	alice.sendRaw(`{"type":"webrtc.signal","data":{"type":"offer","data":{"sdp":"v=0","type":"offer"}}}`)
	o := bob.next().dyson(t)
	if o.Type != "offer" || string(o.Data) != `{"sdp":"v=0","type":"offer"}` || o.To != nil || o.AccountID != "alice" || o.Account.ID != "alice" {
		t.Fatalf("offer: %+v", o)
	}
	bob.sendRaw(`{"type":"webrtc.signal","data":{"type":"answer","data":{"sdp":"v=0","type":"answer"},"to":"alice"}}`)
	if a := alice.next().dyson(t); a.Type != "answer" || a.To == nil || *a.To != "alice" || a.AccountID != "bob" {
		t.Fatalf("answer: %+v", a)
	}
	for i := range 50 {
		alice.sendRaw(fmt.Sprintf(`{"type":"webrtc.signal","data":{"type":"ice-candidate","data":{"n":%d}}}`, i))
	}
	for i := range 50 {
		got := bob.next().dyson(t)
		if want := fmt.Sprintf(`{"n":%d}`, i); got.Type != "ice-candidate" || string(got.Data) != want {
			t.Fatalf("candidate %d: %+v", i, got)
		}
	}
	bob.ws.CloseNow()
	if l := alice.next().dyson(t); l.Type != "user-left" || l.AccountID != "bob" {
		t.Fatalf("alice's user-left: %+v", l)
	}
}

// TestMixedDialects puts a Dyson client and a native client in one room.
func TestMixedDialects(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	dy, dw := g.dyson(t, "mixed", "dora")
	if len(dw.Participants) != 0 {
		t.Fatalf("dora's welcome: %+v", dw)
	}
	nat, nw := g.native(t, "mixed", "nate")
	if len(nw.Participants) != 1 || nw.Participants[0].User.ID != "dora" {
		t.Fatalf("nate's welcome does not list dora: %s", nw.raw)
	}
	if j := dy.next().dyson(t); j.Type != "user-joined" || j.AccountID != "nate" {
		t.Fatalf("dora's user-joined: %+v", j)
	}

	dy.sendRaw(`{"type":"webrtc.signal","data":{"type":"offer","data":{"sdp":"v=0"},"to":"nate"}}`)
	s := nat.expect("signal")
	if s.From.User.ID != "dora" || s.From.ConnectionID != nw.Participants[0].ConnectionID || s.ToUser != "nate" ||
		string(s.Data) != `{"type":"offer","data":{"sdp":"v=0"}}` {
		t.Fatalf("native view of a Dyson offer: %s", s.raw)
	}
	nat.signal(`{"type":"answer","sdp":"v=1"}`, nw.Participants[0].ConnectionID, "")
	a := dy.next().dyson(t)
	if a.Type != "answer" || a.AccountID != "nate" || a.To == nil || *a.To != "dora" || string(a.Data) != `{"type":"answer","sdp":"v=1"}` {
		t.Fatalf("Dyson view of a native answer: %+v", a)
	}
}

// TestRouting checks directed, per-user and broadcast routing, and that a
// sender never hears itself.
func TestRouting(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	a1, _ := g.native(t, "r", "alice")
	a2, w2 := g.native(t, "r", "alice")
	a1.expect("joined")
	b, wb := g.native(t, "r", "bob")
	a1.expect("joined")
	a2.expect("joined")
	all := []*client{a1, a2, b}

	// expectOnly checks that exactly the wanted clients got data from
	// sender: the sender follows it with a marker broadcast (its signals keep
	// their order), so every other client sees the data then the marker, or
	// the marker alone. The sender itself must hear nothing: a marker from a
	// fourth party, sent after everyone has had the first marker, must be
	// the next thing it reads.
	m, _ := g.native(t, "r", "marker")
	for _, cl := range all {
		cl.expect("joined")
	}
	marker := 0
	expectOnly := func(sender *client, data string, want ...*client) {
		t.Helper()
		marker++
		mark := `{"marker":` + strconv.Itoa(marker) + `}`
		sender.signal(mark, "", "")
		for _, cl := range append(all, m) {
			if cl == sender {
				continue
			}
			wanted := false
			for _, w := range want {
				wanted = wanted || w == cl
			}
			got := cl.expect("signal")
			if wanted {
				if string(got.Data) != data {
					t.Fatalf("a client got %s, want %s", got.Data, data)
				}
				got = cl.expect("signal")
			}
			if string(got.Data) != mark {
				t.Fatalf("a client got %s, want only the marker %s", got.Data, mark)
			}
		}
		m.signal(`"after"`, "", "")
		for _, cl := range all {
			if got := cl.expect("signal"); string(got.Data) != `"after"` {
				t.Fatalf("got %s, want the closing marker (was the sender echoed?)", got.raw)
			}
		}
	}

	a1.signal(`"to-b"`, wb.ConnectionID, "")
	expectOnly(a1, `"to-b"`, b)
	a1.signal(`"to-a2"`, w2.ConnectionID, "")
	expectOnly(a1, `"to-a2"`, a2)
	b.signal(`"to-alice"`, "", "alice")
	expectOnly(b, `"to-alice"`, a1, a2)
	a1.signal(`"to-alice-from-alice"`, "", "alice")
	expectOnly(a1, `"to-alice-from-alice"`, a2)
	a2.signal(`"everyone"`, "", "")
	expectOnly(a2, `"everyone"`, a1, b, m)
	b.signal(`"nobody"`, "", "carol")
	expectOnly(b, `"nobody"`)

	// A connection id that is not in this room is an unknown target,
	// including one in another room.
	_, other := g.native(t, "elsewhere", "carol")
	for _, id := range []string{"c_nope", other.ConnectionID} {
		a1.sendRaw(`{"type":"signal","data":1,"to":"` + id + `","id":"q1"}`)
		if e := a1.expect("error"); e.Code != "unknown_target" || e.Ref != "q1" {
			t.Fatalf("to %s: %s", id, e.raw)
		}
	}
	expectOnly(a1, "")
}

// TestTwoGateways relays between clients on two gateways, in order.
func TestTwoGateways(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g1 := c.gateway(gateway.Config{GatewayID: "gw1"})
	g2 := c.gateway(gateway.Config{GatewayID: "gw2"})
	alice, aw := g1.native(t, "x", "alice")
	bob, bw := g2.native(t, "x", "bob")
	if len(bw.Participants) != 1 || bw.Participants[0].ConnectionID != aw.ConnectionID {
		t.Fatalf("bob on gw2 does not see alice on gw1: %s", bw.raw)
	}
	alice.expect("joined")
	dora, _ := g2.dyson(t, "x", "dora")
	alice.expect("joined")
	bob.expect("joined")

	const n = 200
	for i := range n {
		alice.signal(strconv.Itoa(i), "", "")
		bob.signal(strconv.Itoa(-i), aw.ConnectionID, "")
	}
	for i := range n {
		if got := bob.expect("signal"); string(got.Data) != strconv.Itoa(i) {
			t.Fatalf("bob: signal %d is %s", i, got.Data)
		}
		if got := alice.expect("signal"); string(got.Data) != strconv.Itoa(-i) || got.From.ConnectionID != bw.ConnectionID {
			t.Fatalf("alice: signal %d is %s", i, got.raw)
		}
	}
	for i := range n {
		if got := dora.next().dyson(t); string(got.Data) != strconv.Itoa(i) || got.AccountID != "alice" {
			t.Fatalf("dora: signal %d is %+v", i, got)
		}
	}
}

// TestRoomIsolation checks that nothing crosses from one room to another.
func TestRoomIsolation(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	a, _ := g.native(t, "A", "alice")
	b, _ := g.native(t, "B", "bob")
	a2, _ := g.native(t, "A", "ann")
	a.expect("joined")
	a.signal(`"in A"`, "", "")
	a.signal(`"to bob by user"`, "", "bob")
	if got := a2.expect("signal"); string(got.Data) != `"in A"` {
		t.Fatalf("ann got %s", got.raw)
	}
	// bob's next packet must be the B-room signal, nothing from A.
	b2, _ := g.native(t, "B", "bea")
	if got := b.expect("joined"); got.Participant.User.ID != "bea" {
		t.Fatalf("bob got %s", got.raw)
	}
	b2.signal(`"in B"`, "", "")
	if got := b.expect("signal"); string(got.Data) != `"in B"` {
		t.Fatalf("bob got %s, want only room B's signal", got.raw)
	}
}

// TestDysonPresencePerAccount checks that Dyson presence is per account: an
// account's second connection announces nothing, and user-left comes only
// when its last connection goes.
func TestDysonPresencePerAccount(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	alice, _ := g.dyson(t, "acct", "alice")
	bob1, _ := g.native(t, "acct", "bob")
	if j := alice.next().dyson(t); j.Type != "user-joined" || j.AccountID != "bob" {
		t.Fatalf("first bob: %+v", j)
	}
	bob2, w := g.dyson(t, "acct", "bob")
	if len(w.Participants) != 1 || w.Participants[0].AccountID != "alice" {
		t.Fatalf("bob2's welcome must list alice only: %+v", w)
	}
	bob1.expect("joined")
	bob1.ws.CloseNow()
	poll.Until(t, 5*time.Second, "bob1 gone", func() bool { return len(c.presence("acct")) == 2 })

	// Neither bob2's arrival nor bob1's departure reached alice: bob2's
	// signal is the next thing she reads.
	bob2.sendRaw(`{"type":"webrtc.signal","data":{"type":"ping"}}`)
	if s := alice.next().dyson(t); s.Type != "ping" || s.AccountID != "bob" {
		t.Fatalf("alice: %+v", s)
	}
	bob2.ws.CloseNow()
	if l := alice.next().dyson(t); l.Type != "user-left" || l.AccountID != "bob" {
		t.Fatalf("alice after bob's last connection: %+v", l)
	}
}
