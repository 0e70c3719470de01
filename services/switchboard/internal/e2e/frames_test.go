package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/services/gateway"
)

// TestMalformedFrames sends bad frames: each gets an error packet and the
// connection keeps working.
func TestMalformedFrames(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	a, aw := g.native(t, "m", "alice")
	b, _ := g.native(t, "m", "bob")
	a.expect("joined")

	for _, tt := range []struct{ frame, code, ref string }{
		{`{"type":"signal","data":1,"to":"` + aw.ConnectionID + `","id":"me"}`, "unknown_target", "me"},
		{`not json`, "bad_request", ""},
		{`[1,2,3]`, "bad_request", ""},
		{`{"data":{}}`, "bad_request", ""},
		{`{"type":"dance","id":"d1"}`, "bad_request", "d1"},
		{`{"type":"signal","id":"s1"}`, "bad_request", "s1"},
		{`{"type":"signal","data":1,"to":"c_nobody","id":"t1"}`, "unknown_target", "t1"},
		{`{"type":"signal","data":1,"to":5}`, "bad_request", ""},
		{`{"type":"signal","data":"` + strings.Repeat("x", 64<<10) + `","id":"big"}`, "too_large", "big"},
	} {
		a.sendRaw(tt.frame)
		if e := a.expect("error"); e.Code != tt.code || e.Ref != tt.ref || e.Message == "" {
			t.Errorf("frame %.40s: got %s, want code %s ref %q", tt.frame, e.raw, tt.code, tt.ref)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.ws.Write(ctx, websocket.MessageBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if e := a.expect("error"); e.Code != "bad_request" {
		t.Errorf("binary frame: %s", e.raw)
	}

	a.signal(`"still here"`, "", "")
	if s := b.expect("signal"); string(s.Data) != `"still here"` {
		t.Fatalf("after bad frames: %s", s.raw)
	}

	// Dyson clients get their own error shape.
	d, _ := g.dyson(t, "m", "dora")
	a.expect("joined")
	b.expect("joined")
	for _, f := range []string{`nope`, `{"type":"webrtc.signal"}`, `{"data":{"data":{}}}`, `{"data":"x"}`} {
		d.sendRaw(f)
		if e := d.expect("error"); e.ErrorMessage == "" || string(e.Data) != "null" {
			t.Errorf("dyson frame %s: %s", f, e.raw)
		}
	}
	d.sendRaw(`{"type":"webrtc.signal","data":{"type":"offer","data":{}}}`)
	if s := a.expect("signal"); s.From.User.ID != "dora" {
		t.Fatalf("dyson after bad frames: %s", s.raw)
	}
}

// TestOversizedFrameCloses1009 sends a frame over the read limit.
func TestOversizedFrameCloses1009(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{})
	a, _ := g.native(t, "o", "alice")
	b, _ := g.native(t, "o", "bob")
	a.expect("joined")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"signal","data":"`+strings.Repeat("x", 100<<10)+`"}`))
	if code := a.closeStatus(); code != websocket.StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	if l := b.expect("left"); l.Reason != "closed" {
		t.Fatalf("bob: %s", l.raw)
	}
}

// TestSlowReaderDropped floods a room with a client that never reads: it is
// closed, and the reading client gets every signal.
func TestSlowReaderDropped(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{SendQueueBytes: 256 << 10, WriteTimeout: time.Second, RatePerSecond: -1, BytesPerSecond: -1})
	sender, _ := g.native(t, "s", "sender")
	reader, _ := g.native(t, "s", "reader")
	sender.expect("joined")
	slow, sw := g.native(t, "s", "slow")
	sender.expect("joined")
	reader.expect("joined")
	_ = slow // never reads again

	// The sender keeps pace with the reader, so the reader's queue never
	// fills; the slow client's socket buffers and then its queue do.
	payload := `"` + strings.Repeat("p", 16<<10) + `"`
	const n = 1000 // 16 MiB, more than loopback socket buffers hold
	slowLeft := map[*client]bool{}
	next := func(cl *client) packet {
		for {
			p := cl.next()
			if p.Type != "left" {
				return p
			}
			if p.Participant.ConnectionID != sw.ConnectionID || slowLeft[cl] {
				t.Fatalf("unexpected %s", p.raw)
			}
			slowLeft[cl] = true
		}
	}
	for i := range n {
		sender.signal(payload, "", "")
		if s := next(reader); s.Type != "signal" || string(s.Data) != payload {
			t.Fatalf("signal %d: got %.80s", i, s.raw)
		}
	}
	// The slow client is gone: both others are told exactly once.
	sender.signal(`"end"`, "", "")
	if s := next(reader); string(s.Data) != `"end"` {
		t.Fatalf("got %.80s", s.raw)
	}
	reader.signal(`"end"`, "", "")
	if s := next(sender); string(s.Data) != `"end"` {
		t.Fatalf("got %.80s", s.raw)
	}
	if !slowLeft[reader] || !slowLeft[sender] {
		t.Fatalf("slow client not reported gone: reader %v, sender %v", slowLeft[reader], slowLeft[sender])
	}
}

// TestRateLimited sends faster than the limit allows.
func TestRateLimited(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{RatePerSecond: 1, RateBurst: 3})
	a, _ := g.native(t, "rl", "alice")
	b, _ := g.native(t, "rl", "bob")
	a.expect("joined")
	for range 4 {
		a.signal(`1`, "", "")
	}
	if e := a.expect("error"); e.Code != "rate_limited" {
		t.Fatalf("got %s", e.raw)
	}
	for range 3 {
		b.expect("signal")
	}
}

// TestByteRateLimited sends more bytes than the byte limit allows, within
// the frame limit: the frame past the burst is refused, the others relayed.
func TestByteRateLimited(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{RatePerSecond: -1, BytesPerSecond: 1000}) // bursts of 2,000 bytes
	a, _ := g.native(t, "brl", "alice")
	b, _ := g.native(t, "brl", "bob")
	a.expect("joined")
	data := `"` + strings.Repeat("x", 900) + `"` // a frame of about 930 bytes
	for range 3 {
		a.signal(data, "", "")
	}
	if e := a.expect("error"); e.Code != "rate_limited" {
		t.Fatalf("got %s", e.raw)
	}
	for range 2 {
		if s := b.expect("signal"); string(s.Data) != data {
			t.Fatalf("got %.80s", s.raw)
		}
	}
}

// TestShutdownCloses1001 shuts a gateway down: clients get 1001 and the
// other gateway's clients see them leave.
func TestShutdownCloses1001(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g1 := c.gateway(gateway.Config{CloseSpread: 100 * time.Millisecond})
	g2 := c.gateway(gateway.Config{})
	w, _ := g2.native(t, "sd", "watcher")
	a, _ := g1.native(t, "sd", "alice")
	b, _ := g1.native(t, "sd", "bob")
	w.expect("joined")
	w.expect("joined")
	a.expect("joined")
	codes := make(chan websocket.StatusCode, 2)
	for _, cl := range []*client{a, b} {
		go func() { codes <- cl.closeStatus() }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := g1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code := <-codes; code != websocket.StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	for range 2 {
		if l := w.expect("left"); l.Reason != "closed" {
			t.Fatalf("left: %s", l.raw)
		}
	}
	checkNative(t, g1.srv.URL+"/v1/rooms/sd/ws?access_token="+token(t, "carol"), nil, false, 503, "unavailable")
}

// TestFloodingClientClosed1008 keeps sending past a full burst of
// rate_limited errors and is closed with 1008.
func TestFloodingClientClosed1008(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{RatePerSecond: 0.001, RateBurst: 2})
	a, _ := g.native(t, "flood", "alice")
	codes := make(chan websocket.StatusCode, 1)
	go func() { codes <- a.closeStatus() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 10 {
		if a.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"signal","data":1}`)) != nil {
			break
		}
	}
	if code := <-codes; code != websocket.StatusPolicyViolation {
		t.Fatalf("close code %d, want 1008", code)
	}
}

// TestUnresponsiveClientLeaves has a client that stops answering pings: it
// is closed and the room is told it left.
func TestUnresponsiveClientLeaves(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g := c.gateway(gateway.Config{PingInterval: 100 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	w, _ := g.native(t, "ping", "watcher")
	// The mute client reads its welcome, then never reads again, so its
	// side never answers a ping.
	_, mw := g.native(t, "ping", "mute")
	if j := w.expect("joined"); j.Participant.ConnectionID != mw.ConnectionID {
		t.Fatalf("joined: %s", j.raw)
	}
	if l := w.expect("left"); l.Participant.ConnectionID != mw.ConnectionID || l.Reason != "closed" {
		t.Fatalf("left: %s", l.raw)
	}
}
