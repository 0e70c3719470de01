package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchboard-rtc/switchboard/services/gateway"
	"github.com/switchboard-rtc/switchboard/services/membership"
	"github.com/switchboard-rtc/switchboard/services/presence"
	"github.com/switchboard-rtc/switchboard/shared/auth"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

var secret = []byte("e2e-secret")

// cluster is one NATS server with services and gateways on it.
type cluster struct {
	t  testing.TB
	ns *server.Server
	tp trace.TracerProvider
	nc *nats.Conn // the test's own connection
}

type options struct {
	openRooms    bool
	noMembership bool
	noPresence   bool
	tp           trace.TracerProvider
	leaseTTL     time.Duration
}

func newCluster(t testing.TB, o options) *cluster {
	t.Helper()
	c := &cluster{t: t, ns: natstest.Server(t), tp: o.tp}
	if c.tp == nil {
		c.tp = noop.NewTracerProvider()
	}
	c.nc = natstest.Connect(t, c.ns)
	if !o.noMembership {
		c.startMembership(o.openRooms)
	}
	if !o.noPresence {
		ps, err := presence.Start(context.Background(), natstest.Connect(t, c.ns), presence.Config{LeaseTTL: o.leaseTTL}, quietLog(), c.tp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ps.Stop() })
	}
	return c
}

func (c *cluster) startMembership(open bool) *membership.Service {
	ms, err := membership.Start(context.Background(), natstest.Connect(c.t, c.ns), membership.Config{OpenRooms: open}, quietLog(), c.tp)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = ms.Stop() })
	return ms
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// gw is a gateway behind a real HTTP server.
type gw struct {
	*gateway.Gateway
	srv *httptest.Server
	nc  *nats.Conn
}

func (c *cluster) gateway(cfg gateway.Config) *gw {
	c.t.Helper()
	nc := natstest.Connect(c.t, c.ns, gateway.NATSOptions()...)
	cfg.JWTSecret = secret
	g, err := gateway.New(nc, cfg, quietLog(), c.tp)
	if err != nil {
		c.t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	c.t.Cleanup(func() {
		_ = g.Shutdown(context.Background())
		srv.Close()
	})
	return &gw{g, srv, nc}
}

// ws returns the WebSocket URL of path on g.
func (g *gw) ws(path string) string { return "ws" + strings.TrimPrefix(g.srv.URL, "http") + path }

func token(t testing.TB, user string) string {
	t.Helper()
	tok, err := auth.Mint(secret, contract.User{ID: user, Name: strings.ToUpper(user[:1]) + user[1:]}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// createRoom creates a room through the membership service.
func (c *cluster) createRoom(room, owner, policy string, members ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rpc.Call(ctx, c.nc, subject.MembershipRoomsCreate, contract.CreateRoomRequest{RoomID: room, OwnerID: owner, Policy: policy}, nil); err != nil {
		c.t.Fatal(err)
	}
	for _, m := range members {
		if err := rpc.Call(ctx, c.nc, subject.MembershipMembersAdd, contract.MemberRequest{RoomID: room, UserID: m}, nil); err != nil {
			c.t.Fatal(err)
		}
	}
}

// client is a real WebSocket client.
type client struct {
	t  testing.TB
	ws *websocket.Conn
}

func dial(t testing.TB, url string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &client{t, ws}
}

// native connects user to room on g with the native protocol and reads the
// welcome.
func (g *gw) native(t testing.TB, room, user string) (*client, packet) {
	t.Helper()
	c := dial(t, g.ws("/v1/rooms/"+room+"/ws?access_token="+token(t, user)))
	w := c.next()
	if w.Type != "welcome" {
		t.Fatalf("first packet is %q, want welcome", w.Type)
	}
	return c, w
}

// dyson connects user to chat on g with the Dyson dialect and reads the
// welcome.
func (g *gw) dyson(t testing.TB, chat, user string) (*client, dysonWelcome) {
	t.Helper()
	c := dial(t, g.ws("/api/chat/realtime/"+chat+"?tk="+token(t, user)))
	p := c.next()
	if p.Type != "webrtc" {
		t.Fatalf("first packet is %q, want webrtc", p.Type)
	}
	var w dysonWelcome
	if err := json.Unmarshal(p.Data, &w); err != nil {
		t.Fatal(err)
	}
	return c, w
}

type user struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Nick string `json:"nick"`
}

type participant struct {
	ConnectionID string `json:"connection_id"`
	User         user   `json:"user"`
	JoinedAt     string `json:"joined_at"`
}

// packet is any server packet, native or Dyson.
type packet struct {
	Type         string          `json:"type"`
	ConnectionID string          `json:"connection_id"`
	RoomID       string          `json:"room_id"`
	User         user            `json:"user"`
	Participants []participant   `json:"participants"`
	Participant  participant     `json:"participant"`
	Reason       string          `json:"reason"`
	From         participant     `json:"from"`
	To           string          `json:"to"`
	ToUser       string          `json:"to_user"`
	Data         json.RawMessage `json:"data"`
	Code         string          `json:"code"`
	Message      string          `json:"message"`
	Ref          string          `json:"ref"`
	ErrorMessage string          `json:"error_message"`
	raw          []byte
}

type dysonWelcome struct {
	UserID       string `json:"user_id"`
	RoomID       string `json:"room_id"`
	Message      string `json:"message"`
	Timestamp    string `json:"timestamp"`
	Participants []struct {
		Identity  string `json:"identity"`
		Name      string `json:"name"`
		AccountID string `json:"account_id"`
		Account   user   `json:"account"`
		JoinedAt  string `json:"joined_at"`
	} `json:"participants"`
}

// dysonSignal is the data of a webrtc.signal packet.
type dysonSignal struct {
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	To        *string         `json:"to"`
	AccountID string          `json:"account_id"`
	Account   user            `json:"account"`
}

func (p packet) dyson(t testing.TB) dysonSignal {
	t.Helper()
	if p.Type != "webrtc.signal" {
		t.Fatalf("packet type %q, want webrtc.signal: %s", p.Type, p.raw)
	}
	var s dysonSignal
	if err := json.Unmarshal(p.Data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// next reads one packet, failing the test after 10 seconds.
func (c *client) next() packet {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("got a binary frame")
	}
	var p packet
	if err := json.Unmarshal(b, &p); err != nil {
		c.t.Fatalf("packet is not JSON: %s", b)
	}
	p.raw = b
	return p
}

// expect reads one packet and checks its type.
func (c *client) expect(typ string) packet {
	c.t.Helper()
	p := c.next()
	if p.Type != typ {
		c.t.Fatalf("got %s, want a %s packet", p.raw, typ)
	}
	return p
}

// closeStatus reads until the socket closes and returns its close code.
func (c *client) closeStatus() websocket.StatusCode {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := c.ws.Read(ctx)
		if err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

// signal sends a native signal; to may be "" (broadcast).
func (c *client) signal(data string, to, toUser string) {
	c.t.Helper()
	f := `{"type":"signal","data":` + data
	if to != "" {
		f += `,"to":"` + to + `"`
	}
	if toUser != "" {
		f += `,"to_user":"` + toUser + `"`
	}
	c.sendRaw(f + `}`)
}

// upgradeRequest sends a request with WebSocket upgrade headers (or
// without, when plain) and returns status, content type and body.
func upgradeRequest(t testing.TB, url string, hdr http.Header, plain bool) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if !plain {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
