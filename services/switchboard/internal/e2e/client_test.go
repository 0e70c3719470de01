package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	sbclient "github.com/switchboard-rtc/switchboard/shared/client"
)

// TestClientPackage drives shared/client against two real gateways: dial
// and welcome, signals byte for byte with every kind of target, an error
// packet, refusals, and a close seen by the other side.
func TestClientPackage(t *testing.T) {
	c := newCluster(t, options{openRooms: true})
	g1, g2 := c.gateway(gateway.Config{}), c.gateway(gateway.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(g *gw, room, user string) *sbclient.Conn {
		t.Helper()
		conn, err := sbclient.Dial(ctx, sbclient.URL(g.ws(""), room), sbclient.Options{Token: token(t, user)})
		if err != nil {
			t.Fatalf("dial %s as %s: %v", room, user, err)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
		return conn
	}
	recv := func(conn *sbclient.Conn, typ string) sbclient.Packet {
		t.Helper()
		p, err := conn.Recv(ctx)
		if err != nil || p.Type != typ {
			t.Fatalf("got %+v, %v; want a %s packet", p, err, typ)
		}
		return p
	}

	alice := dial(g1, "clientroom", "alice")
	aw := alice.Welcome()
	if !strings.HasPrefix(aw.ConnectionID, "c_") || aw.RoomID != "clientroom" || aw.User != (sbclient.User{ID: "alice", Name: "Alice"}) || len(aw.Participants) != 0 {
		t.Fatalf("alice's welcome: %+v", aw)
	}
	bob := dial(g2, "clientroom", "bob")
	bw := bob.Welcome()
	if len(bw.Participants) != 1 || bw.Participants[0].ConnectionID != aw.ConnectionID || bw.Participants[0].JoinedAt.IsZero() {
		t.Fatalf("bob's welcome does not list alice: %+v", bw)
	}
	if j := recv(alice, sbclient.TypeJoined); j.Participant.ConnectionID != bw.ConnectionID || j.Participant.User.ID != "bob" {
		t.Fatalf("joined: %+v", j)
	}

	// Signals, across the two gateways, data byte for byte.
	data := `{ "kind":"offer", "n": 9007199254740993, "big": 1e400, "s": "é\u00e9" }`
	for _, s := range []sbclient.Signal{
		{Data: json.RawMessage(data)},
		{Data: json.RawMessage(data), To: aw.ConnectionID, ID: "q1"},
		{Data: json.RawMessage(data), ToUser: "alice"},
	} {
		if err := bob.Send(ctx, s); err != nil {
			t.Fatal(err)
		}
		p := recv(alice, sbclient.TypeSignal)
		if string(p.Data) != data || p.From.ConnectionID != bw.ConnectionID || p.From.User.ID != "bob" || p.To != s.To || p.ToUser != s.ToUser {
			t.Fatalf("sent %+v, alice got %+v with data %s", s, p, p.Data)
		}
	}
	// A frame built by hand goes as it is.
	if err := alice.SendRaw(ctx, []byte(`{"type":"signal","data":[1, 2]}`)); err != nil {
		t.Fatal(err)
	}
	if p := recv(bob, sbclient.TypeSignal); string(p.Data) != `[1, 2]` {
		t.Fatalf("raw frame arrived as %s", p.Data)
	}
	raw, err := func() ([]byte, error) {
		if err := alice.Send(ctx, sbclient.Signal{Data: json.RawMessage(`"raw"`)}); err != nil {
			return nil, err
		}
		return bob.RecvRaw(ctx)
	}()
	if err != nil || !strings.HasPrefix(string(raw), `{"type":"signal"`) || !strings.HasSuffix(string(raw), `"data":"raw"}`) {
		t.Fatalf("RecvRaw: %s %v", raw, err)
	}

	// Refused frames come back as error packets; bad data never leaves.
	if err := alice.Send(ctx, sbclient.Signal{Data: json.RawMessage(`{}`), To: "c_nope", ID: "q2"}); err != nil {
		t.Fatal(err)
	}
	if p := recv(alice, sbclient.TypeError); p.Code != sbclient.CodeUnknownTarget || p.Ref != "q2" || p.Message == "" {
		t.Fatalf("error packet: %+v", p)
	}
	if err := alice.Send(ctx, sbclient.Signal{Data: json.RawMessage(`{"a":`)}); !errors.Is(err, sbclient.ErrBadData) {
		t.Fatalf("bad data: %v", err)
	}

	// Refusals before the upgrade carry the status and the code.
	for _, tc := range []struct {
		name, url, token string
		hdr              http.Header
		status           int
		code             string
	}{
		{"bad token", sbclient.URL(g1.ws(""), "clientroom"), "not-a-jwt", nil, http.StatusUnauthorized, sbclient.CodeUnauthorized},
		{"no token", sbclient.URL(g1.ws(""), "clientroom"), "", nil, http.StatusUnauthorized, sbclient.CodeUnauthorized},
		{"bad room id", sbclient.URL(g2.ws(""), "a.b"), token(t, "alice"), nil, http.StatusBadRequest, sbclient.CodeBadRoomID},
		{"token in HTTPHeader", sbclient.URL(g2.ws(""), "a*b"), "", http.Header{"Authorization": {"Bearer " + token(t, "alice")}}, http.StatusBadRequest, sbclient.CodeBadRoomID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := sbclient.Dial(ctx, tc.url, sbclient.Options{Token: tc.token, HTTPHeader: tc.hdr})
			var r *sbclient.RefusedError
			if !errors.As(err, &r) || r.Status != tc.status || r.Code != tc.code || r.Message == "" {
				t.Fatalf("got %v, %v; want a %d %s refusal", conn, err, tc.status, tc.code)
			}
			if !strings.Contains(err.Error(), tc.code) {
				t.Errorf("error text %q does not name the code", err)
			}
		})
	}

	// Closing is seen by the other side as a left; the closed side reads
	// an error that carries the close code.
	if err := bob.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if p := recv(alice, sbclient.TypeLeft); p.Participant.ConnectionID != bw.ConnectionID || p.Reason != "closed" {
		t.Fatalf("left: %+v", p)
	}
	if _, err := bob.Recv(ctx); err == nil {
		t.Fatal("a closed connection still reads")
	}
}
