package gateway

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

// Handler returns the gateway's HTTP handler: each dialect's WebSocket
// endpoint, /healthz and /readyz.
//
// Paths are matched by hand rather than with http.ServeMux, which would
// redirect a path such as /v1/rooms//ws instead of refusing its empty room
// id with 400.
func (g *Gateway) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch p {
		case "/healthz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("ok\n"))
			return
		case "/readyz":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := g.Ready(r.Context()); err != nil || g.draining.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready\n"))
				return
			}
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		for i, d := range dialects {
			if roomID, ok := d.Room(p); ok {
				g.serveWS(w, r, i, roomID)
				return
			}
		}
		http.NotFound(w, r)
	})
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
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request, dix int, roomID string) {
	d := dialects[dix]
	start := time.Now()
	ctx := telemetry.ExtractHTTP(r.Context(), r.Header)
	// HTTP semantic conventions; never the query, which may hold a token.
	ctx, span := g.tracer.Start(ctx, "gateway.connect", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("url.scheme", scheme(r)),
			attribute.String("server.address", r.Host),
			attribute.String("user_agent.original", r.UserAgent()),
			attribute.String("switchboard.dialect", d.Name())))
	served := false
	defer func() {
		if !served {
			span.End()
		}
	}()
	fail := func(why dialect.Refusal, msg string) {
		span.SetStatus(codes.Error, msg)
		span.SetAttributes(attribute.Int("http.response.status_code", why.Status()))
		g.m.admissions.WithLabelValues(d.Name(), admissionResults[why]).Inc()
		d.Refuse(w, why)
	}

	if !roomid.Valid(roomID) {
		fail(dialect.BadRoomID, "bad room id")
		return
	}
	span.SetAttributes(attribute.String("switchboard.room_id", roomID))
	tok, fromCookie := d.Token(r)
	user, err := g.verifier.Verify(tok)
	if err != nil {
		fail(dialect.Unauthorized, "unauthorized")
		return
	}
	span.SetAttributes(attribute.String("switchboard.user_id", user.ID))
	if g.draining.Load() {
		fail(dialect.Unavailable, "draining")
		return
	}
	if why, ok := g.authorize(ctx, roomID, user.ID); !ok {
		fail(why, "not authorized")
		return
	}
	if !isWebSocket(r) {
		fail(dialect.NotWebSocket, "not a WebSocket request")
		return
	}

	sb := &smallBuffers{ResponseWriter: w}
	ws, err := websocket.Accept(sb, r, &websocket.AcceptOptions{
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
	span.SetAttributes(attribute.Int("http.response.status_code", http.StatusSwitchingProtocols))
	c := g.newConn(ws, dix, roomID, user, ctx)
	c.cork = sb.cork
	span.SetAttributes(attribute.String("switchboard.connection_id", c.id()))
	// Joining runs here, on a stack already grown for it; the connection's
	// long life then goes on in a goroutine of its own (see serveConn).
	served = true
	g.serveConn(context.WithoutCancel(ctx), c, span, start)
}

// scheme is the request's URL scheme as the client used it.
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// authorize asks membership whether userID may enter roomID. Failing to get
// an answer refuses with 503: the door stays closed.
func (g *Gateway) authorize(ctx context.Context, roomID, userID string) (dialect.Refusal, bool) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.AuthorizeTimeout)
	defer cancel()
	var rep contract.AuthorizeReply
	err := rpc.Call(ctx, g.nc, subject.MembershipAuthorize, contract.AuthorizeRequest{RoomID: roomID, UserID: userID}, &rep)
	switch {
	case err != nil:
		g.log.WarnContext(ctx, "membership did not authorize", slog.String("room_id", roomID), slog.Any("err", err))
		return dialect.Unavailable, false
	case !rep.Allowed:
		return dialect.Forbidden, false
	}
	return 0, true
}

// smallBuffers hands the WebSocket library smaller read and write buffers
// than net/http's 4 KiB each: they live as long as the connection, idle or
// not. A client frame larger than the read buffer costs one more read call
// (a 1 KiB read buffer saved another 1.5 KiB per idle connection and cost
// 15% of relay throughput); writes go through the cork, so the write
// buffer's size costs nothing.
type smallBuffers struct {
	http.ResponseWriter
	cork *cork // set by Hijack, unless the server had read ahead
}

// Sizes of a connection's two buffers. Everything the writer sends goes
// through the cork, which gathers a frame (or a batch) and writes it in
// one call whatever the buffer's size, so the write buffer can be small.
const (
	readBuffer  = 2 << 10
	writeBuffer = 256
)

func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		// Bytes already read ahead stay in the server's reader.
		return c, brw, err
	}
	w.cork = &cork{Conn: c}
	return c, bufio.NewReadWriter(bufio.NewReaderSize(c, readBuffer), bufio.NewWriterSize(w.cork, writeBuffer)), nil
}
