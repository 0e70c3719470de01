package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/services/membership"
	"github.com/switchboard-rtc/switchboard/services/presence"
	"github.com/switchboard-rtc/switchboard/shared/auth"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/poll"
	"github.com/switchboard-rtc/switchboard/shared/syncbuf"
)

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestTokenPrintsOnlyAToken(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"token", "--user", "alice", "--name", "Alice", "--ttl", "2h"}, envOf(map[string]string{"SWITCHBOARD_JWT_SECRET": "s3"}), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auth.NewVerifier([]byte("s3"))
	u, err := v.Verify(strings.TrimSuffix(out.String(), "\n"))
	if err != nil || u.ID != "alice" || u.Name != "Alice" || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("token output %q: %+v, %v", out.String(), u, err)
	}
	for _, args := range [][]string{{"token"}, {"token", "--user", "a", "--ttl", "-1h"}, {"frobnicate"}, {"rooms", "get"}, {"run", "--prod"}} {
		if err := run(context.Background(), args, envOf(map[string]string{"SWITCHBOARD_JWT_SECRET": "s3"}), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if err := run(context.Background(), []string{"token", "--user", "a"}, envOf(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_JWT_SECRET") {
		t.Errorf("no secret: %v", err)
	}
}

func TestOperatorCommands(t *testing.T) {
	ns := natstest.Server(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ms, err := membership.Start(context.Background(), natstest.Connect(t, ns), membership.Config{}, log, noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Stop() })
	ps, err := presence.Start(context.Background(), natstest.Connect(t, ns), presence.Config{}, log, noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Stop() })
	getenv := envOf(map[string]string{"SWITCHBOARD_NATS_URL": ns.ClientURL()})
	sb := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, getenv, &out, io.Discard)
		return out.String(), err
	}
	room := func(out string) contract.Room {
		var r contract.Room
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not a room: %q", out)
		}
		return r
	}

	out, err := sb("rooms", "create", "team", "--owner", "alice", "--policy", "members")
	if err != nil || room(out).OwnerID != "alice" {
		t.Fatalf("create: %q %v", out, err)
	}
	if _, err := sb("rooms", "create", "team", "--owner", "alice"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("second create: %v", err)
	}
	out, err = sb("members", "add", "team", "bob")
	if err != nil || len(room(out).Members) != 2 {
		t.Fatalf("add: %q %v", out, err)
	}
	out, err = sb("members", "remove", "--", "team", "bob")
	if err != nil || len(room(out).Members) != 1 {
		t.Fatalf("remove: %q %v", out, err)
	}
	if out, err = sb("rooms", "get", "team"); err != nil || room(out).Policy != "members" {
		t.Fatalf("get: %q %v", out, err)
	}
	if _, err = sb("rooms", "delete", "team"); err != nil {
		t.Fatal(err)
	}
	if _, err = sb("rooms", "get", "team"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("get after delete: %v", err)
	}
	if out, err = sb("presence", "team"); err != nil || !strings.HasPrefix(out, "CONNECTION") {
		t.Fatalf("presence: %q %v", out, err)
	}
	if _, err = sb("presence", "a.b"); err == nil {
		t.Fatal("presence of a bad room id: no error")
	}
	if _, err := sb("members", "add", "team"); err == nil {
		t.Fatal("members add without a user: no error")
	}
}

// TestRunDev starts the all-in-one as make run does and connects with the
// URL and token it prints.
// snippet finds the WebSocket URL in the dev-mode banner.
var snippet = regexp.MustCompile(`new WebSocket\("(ws://[^"]+)"\)`)

// startDev runs the all-in-one in dev mode on free ports and a temporary
// data directory, with extra variables, and returns its output once the
// banner is out, and stop, which ends it and returns run's error (also
// called when the test ends).
func startDev(t testing.TB, extra map[string]string) (out *syncbuf.Buffer, stop func() error) {
	t.Helper()
	env := map[string]string{
		"SWITCHBOARD_HTTP_ADDR":   "127.0.0.1:0",
		"SWITCHBOARD_NATS_LISTEN": "127.0.0.1:-1",
		"SWITCHBOARD_DATA_DIR":    t.TempDir(),
	}
	for k, v := range extra {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncbuf.Buffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"run", "--dev"}, envOf(env), out, io.Discard) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	poll.Until(t, 20*time.Second, "the banner", func() bool { return snippet.MatchString(out.String()) })
	return out, stop
}

func TestRunDev(t *testing.T) {
	out, stop := startDev(t, nil)
	url := snippet.FindStringSubmatch(out.String())[1]

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		t.Fatalf("dial the printed URL %s: %v\n%s", url, err, out.String())
	}
	_, b, err := ws.Read(dctx)
	if err != nil || !strings.Contains(string(b), `"type":"welcome"`) || !strings.Contains(string(b), `"id":"alice"`) {
		t.Fatalf("welcome: %s %v", b, err)
	}

	// A second gateway joins through the printed NATS address and secret,
	// and bob, on it, reaches alice.
	natsURL := regexp.MustCompile(`NATS: +(nats://\S+)`).FindStringSubmatch(out.String())
	secret := regexp.MustCompile(`SWITCHBOARD_JWT_SECRET=(\S+)`).FindStringSubmatch(out.String())
	if natsURL == nil || secret == nil {
		t.Fatalf("banner lacks the NATS URL or the secret:\n%s", out.String())
	}
	nc := natstest.ConnectURL(t, natsURL[1])
	g2, err := gateway.New(nc, gateway.Config{JWTSecret: []byte(secret[1]), GatewayID: "second"}, slog.New(slog.DiscardHandler), noop.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g2.Handler())
	defer srv.Close()
	defer g2.Shutdown(context.Background())
	bobTok, err := auth.Mint([]byte(secret[1]), contract.User{ID: "bob"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/rooms/demo/ws?access_token="+bobTok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.CloseNow()
	if _, b, err = bob.Read(dctx); err != nil || !strings.Contains(string(b), `"id":"alice"`) {
		t.Fatalf("bob's welcome on the second gateway: %s %v", b, err)
	}
	if err := bob.Write(dctx, websocket.MessageText, []byte(`{"type":"signal","data":{"kind":"offer"}}`)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"joined"`, `"data":{"kind":"offer"}`} {
		if _, b, err = ws.Read(dctx); err != nil || !strings.Contains(string(b), want) {
			t.Fatalf("alice: got %s %v, want %s", b, err, want)
		}
	}
	bob.Close(websocket.StatusNormalClosure, "")
	codes := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := ws.Read(dctx); err != nil {
				codes <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if code := <-codes; code != websocket.StatusGoingAway {
		t.Fatalf("close code %d after shutdown, want 1001", code)
	}
}

func TestRunNeedsASecretOutsideDevMode(t *testing.T) {
	err := run(context.Background(), []string{"run"}, envOf(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_JWT_SECRET") {
		t.Fatalf("run without a secret: %v", err)
	}
	err = run(context.Background(), nil, envOf(map[string]string{"SWITCHBOARD_JWT_SECRET": "x", "SWITCHBOARD_OPEN_ROOMS": "perhaps"}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_OPEN_ROOMS") {
		t.Fatalf("bad SWITCHBOARD_OPEN_ROOMS: %v", err)
	}
}
