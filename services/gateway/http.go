package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

const (
	nativePrefix = "/v1/rooms/"
	nativeSuffix = "/ws"
	dysonPrefix  = "/api/chat/realtime/"
)

// Handler returns the gateway's HTTP handler: the two WebSocket endpoints,
// /healthz and /readyz.
//
// Paths are matched by hand rather than with http.ServeMux, which would
// redirect a path such as /v1/rooms//ws instead of refusing its empty room
// id with 400.
func (g *Gateway) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/healthz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
		case p == "/readyz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := g.Ready(r.Context()); err != nil || g.draining.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready\n"))
				return
			}
			_, _ = w.Write([]byte("ready\n"))
		case strings.HasPrefix(p, nativePrefix) && strings.HasSuffix(p, nativeSuffix) && len(p) >= len(nativePrefix)+len(nativeSuffix):
			g.serveWS(w, r, dialectNative, p[len(nativePrefix):len(p)-len(nativeSuffix)])
		case strings.HasPrefix(p, dysonPrefix):
			g.serveWS(w, r, dialectDyson, p[len(dysonPrefix):])
		default:
			http.NotFound(w, r)
		}
	})
}

// refusal is why a connection attempt is refused before the upgrade.
type refusal int

const (
	badRoomID refusal = iota
	unauthorized
	forbidden
	unavailable
	notWebSocket
)

var refusalStatus = [...]int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable, http.StatusBadRequest}

var nativeRefusals = [...]struct{ code, message string }{
	{"bad_room_id", "room id must be 1 to 128 characters of A-Z a-z 0-9 _ -"},
	{"unauthorized", "a valid token is required"},
	{"forbidden", "not allowed in this room"},
	{"unavailable", "the service is unavailable, try again"},
	{"not_websocket", "this endpoint expects a WebSocket upgrade"},
}

var dysonRefusals = [...]string{
	"Bad Request: invalid chat id",
	"Unauthorized",
	"Forbidden: Not a member of this chat room",
	"Service Unavailable",
	"Bad Request: WebSocket connection expected",
}

func refuse(w http.ResponseWriter, d dialect, why refusal) {
	if d == dialectDyson {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(refusalStatus[why])
		_, _ = w.Write([]byte(dysonRefusals[why]))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(refusalStatus[why])
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	r := nativeRefusals[why]
	_ = json.NewEncoder(w).Encode(struct {
		Error body `json:"error"`
	}{body{r.code, r.message}})
}

// token finds the client's token where its dialect puts it. fromCookie says
// it came from a cookie, which a browser sends cross-site by itself.
func token(r *http.Request, d dialect) (tok string, fromCookie bool) {
	bearer := func() string {
		h := r.Header.Get("Authorization")
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:])
		}
		return ""
	}
	if d == dialectNative {
		if t := bearer(); t != "" {
			return t, false
		}
		return r.URL.Query().Get("access_token"), false
	}
	if t := r.URL.Query().Get("tk"); t != "" {
		return t, false
	}
	if t := bearer(); t != "" {
		return t, false
	}
	if c, err := r.Cookie("AuthToken"); err == nil {
		return c.Value, true
	}
	return "", false
}

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveWS runs the checks in the order the protocol gives (room id, token,
// membership, upgrade), all before the upgrade, then serves the connection.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request, d dialect, roomID string) {
	ctx := telemetry.ExtractHTTP(r.Context(), r.Header)
	ctx, span := g.tracer.Start(ctx, "gateway.connect", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("switchboard.dialect", d.String())))
	defer span.End()
	fail := func(why refusal, msg string) {
		span.SetStatus(codes.Error, msg)
		refuse(w, d, why)
	}

	if !roomid.Valid(roomID) {
		fail(badRoomID, "bad room id")
		return
	}
	span.SetAttributes(attribute.String("switchboard.room_id", roomID))
	tok, fromCookie := token(r, d)
	user, err := g.verifier.Verify(tok)
	if err != nil {
		fail(unauthorized, "unauthorized")
		return
	}
	if g.draining.Load() {
		fail(unavailable, "draining")
		return
	}
	if why, ok := g.authorize(ctx, roomID, user.ID); !ok {
		fail(why, "not authorized")
		return
	}
	if !isWebSocket(r) {
		fail(notWebSocket, "not a WebSocket request")
		return
	}

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Tokens travel in headers or the URL, which another site's page
		// cannot borrow; a cookie it can, so cookie logins keep the
		// same-origin check.
		InsecureSkipVerify: !fromCookie,
	})
	if err != nil {
		// Accept has written its own 4xx (bad key, version, origin).
		span.SetStatus(codes.Error, "upgrade failed")
		return
	}
	c := g.newConn(ws, d, roomID, user, ctx)
	g.serveConn(ctx, c, func() { span.End() })
}

// authorize asks membership whether userID may enter roomID. Failing to get
// an answer refuses with 503: the door stays closed.
func (g *Gateway) authorize(ctx context.Context, roomID, userID string) (refusal, bool) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.AuthorizeTimeout)
	defer cancel()
	var rep contract.AuthorizeReply
	err := rpc.Call(ctx, g.nc, subject.MembershipAuthorize, contract.AuthorizeRequest{RoomID: roomID, UserID: userID}, &rep)
	switch {
	case err != nil:
		g.log.Warn("membership did not authorize", slog.String("room_id", roomID), slog.Any("err", err))
		return unavailable, false
	case !rep.Allowed:
		return forbidden, false
	}
	return 0, true
}
