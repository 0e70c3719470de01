package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/shared/contract"
)

func signWith(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRefusals checks every refusal before the upgrade, with the status and
// body each dialect specifies.
func TestRefusals(t *testing.T) {
	c := newCluster(t, options{})
	c.createRoom("club", "owner", contract.PolicyMembers, "alice")
	c.createRoom("lobby", "owner", contract.PolicyOpen)
	g := c.gateway(gateway.Config{})
	exp := time.Now().Add(time.Hour).Unix()
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	unauthorized := map[string]http.Header{
		"missing":         nil,
		"malformed":       bearer("not-a-jwt"),
		"bad signature":   bearer(signWith(t, jwt.SigningMethodHS256, []byte("wrong"), jwt.MapClaims{"sub": "alice", "exp": exp})),
		"expired":         bearer(signWith(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()})),
		"no exp":          bearer(signWith(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "alice"})),
		"no sub":          bearer(signWith(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp})),
		"alg none":        bearer(signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "alice", "exp": exp})),
		"wrong algorithm": bearer(signWith(t, jwt.SigningMethodHS384, secret, jwt.MapClaims{"sub": "alice", "exp": exp})),
		"not bearer":      {"Authorization": {"Basic " + token(t, "alice")}},
	}
	for name, hdr := range unauthorized {
		t.Run("native 401 "+name, func(t *testing.T) {
			checkNative(t, g.srv.URL+"/v1/rooms/lobby/ws", hdr, false, 401, "unauthorized")
		})
		t.Run("dyson 401 "+name, func(t *testing.T) {
			checkDyson(t, g.srv.URL+"/api/chat/realtime/lobby", hdr, false, 401, "Unauthorized")
		})
	}

	alice, bob := token(t, "alice"), token(t, "bob")
	t.Run("native 403", func(t *testing.T) {
		checkNative(t, g.srv.URL+"/v1/rooms/club/ws", bearer(bob), false, 403, "forbidden")
	})
	t.Run("native 403 for a room that does not exist", func(t *testing.T) {
		checkNative(t, g.srv.URL+"/v1/rooms/nowhere/ws", bearer(alice), false, 403, "forbidden")
	})
	t.Run("dyson 403", func(t *testing.T) {
		checkDyson(t, g.srv.URL+"/api/chat/realtime/club?tk="+bob, nil, false, 403, "Forbidden: Not a member of this chat room")
	})
	t.Run("native 400 not a websocket", func(t *testing.T) {
		checkNative(t, g.srv.URL+"/v1/rooms/club/ws?access_token="+alice, nil, true, 400, "not_websocket")
	})
	t.Run("dyson 400 not a websocket", func(t *testing.T) {
		checkDyson(t, g.srv.URL+"/api/chat/realtime/club", http.Header{"Cookie": {"AuthToken=" + alice}}, true, 400, "Bad Request: WebSocket connection expected")
	})
	t.Run("not a websocket and unauthorized is 401", func(t *testing.T) {
		checkNative(t, g.srv.URL+"/v1/rooms/club/ws", nil, true, 401, "unauthorized")
	})

	for _, id := range []string{"a.b", "*", ">", "a>", "a b", "", "room.x.>", "x%2Ey", string(make([]byte, 129))} {
		t.Run("bad room id "+url.PathEscape(id), func(t *testing.T) {
			checkNative(t, g.srv.URL+"/v1/rooms/"+url.PathEscape(id)+"/ws", bearer(alice), false, 400, "bad_room_id")
			status, _, body := upgradeRequest(t, g.srv.URL+"/api/chat/realtime/"+url.PathEscape(id), bearer(alice), false)
			if status != 400 || body == "" {
				t.Fatalf("dyson: %d %q", status, body)
			}
		})
	}

	// Each token location connects.
	for name, u := range map[string]string{
		"native query":  g.ws("/v1/rooms/club/ws?access_token=" + alice),
		"dyson tk":      g.ws("/api/chat/realtime/club?tk=" + alice),
		"dyson tk wins": g.ws("/api/chat/realtime/club?tk=" + alice + "&access_token=" + bob),
	} {
		t.Run("connects with "+name, func(t *testing.T) { dial(t, u).next() })
	}
}

func TestMembershipDownIs503(t *testing.T) {
	c := newCluster(t, options{noMembership: true})
	g := c.gateway(gateway.Config{AuthorizeTimeout: 300 * time.Millisecond})
	checkNative(t, g.srv.URL+"/v1/rooms/r/ws?access_token="+token(t, "alice"), nil, false, 503, "unavailable")
	checkDyson(t, g.srv.URL+"/api/chat/realtime/r?tk="+token(t, "alice"), nil, false, 503, "Service Unavailable")
	if status, _, _ := upgradeRequest(t, g.srv.URL+"/readyz", nil, true); status != 503 {
		t.Fatalf("readyz without membership: %d", status)
	}
	if status, _, _ := upgradeRequest(t, g.srv.URL+"/healthz", nil, true); status != 200 {
		t.Fatalf("healthz: %d", status)
	}

	// Membership comes up: the same request now gets in.
	c.startMembership(true)
	dial(t, g.ws("/v1/rooms/r/ws?access_token="+token(t, "alice"))).expect("welcome")
	if status, _, _ := upgradeRequest(t, g.srv.URL+"/readyz", nil, true); status != 200 {
		t.Fatalf("readyz with membership: %d", status)
	}
}

func checkNative(t *testing.T, u string, hdr http.Header, plain bool, status int, code string) {
	t.Helper()
	got, ctype, body := upgradeRequest(t, u, hdr, plain)
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || got != status || b.Error.Code != code || b.Error.Message == "" || ctype != "application/json" {
		t.Fatalf("got %d %q %s, want %d with code %s", got, ctype, body, status, code)
	}
}

func checkDyson(t *testing.T, u string, hdr http.Header, plain bool, status int, body string) {
	t.Helper()
	got, _, b := upgradeRequest(t, u, hdr, plain)
	if got != status || b != body {
		t.Fatalf("got %d %q, want %d %q", got, b, status, body)
	}
}
