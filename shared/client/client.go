package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// DefaultReadLimit is the largest frame a Conn reads unless Options says
// otherwise: room for 64 KiB of signal data, or a welcome listing a few
// thousand participants.
const DefaultReadLimit = 1 << 20

// ErrNoWelcome is returned (wrapped) by Dial when the first packet is not a
// welcome.
var ErrNoWelcome = errors.New("client: the first packet is not a welcome")

// ErrBinaryFrame is returned by Recv and RecvRaw for a binary frame, which
// the native protocol never sends.
var ErrBinaryFrame = errors.New("client: binary frame")

// RefusedError is a connection attempt the gateway refused before the
// WebSocket upgrade, with an HTTP status and, for a native refusal, a JSON
// body {"error":{"code":"...","message":"..."}}. Code and Message are empty
// when the body was not of that form (a load balancer's error page, say).
type RefusedError struct {
	Status  int    // HTTP status, e.g. 401
	Code    string // e.g. unauthorized
	Message string // e.g. a valid token is required
}

func (e *RefusedError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("client: refused with HTTP %d", e.Status)
	}
	return fmt.Sprintf("client: refused with HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// Options configure Dial. The zero value dials without a token.
type Options struct {
	// Token is sent as Authorization: Bearer <token>.
	Token string
	// HTTPHeader is added to the upgrade request.
	HTTPHeader http.Header
	// HTTPClient makes the upgrade request; http.DefaultClient when nil.
	HTTPClient *http.Client
	// ReadLimit is the largest frame read; DefaultReadLimit when zero. A
	// larger frame closes the connection.
	ReadLimit int64
}

// URL returns the native WebSocket URL of roomID on the gateway at base,
// e.g. URL("ws://127.0.0.1:8080", "demo") is
// ws://127.0.0.1:8080/v1/rooms/demo/ws.
func URL(base, roomID string) string {
	return strings.TrimSuffix(base, "/") + "/v1/rooms/" + url.PathEscape(roomID) + "/ws"
}

// Conn is one native connection to a room. See the package documentation
// for which methods may run concurrently.
type Conn struct {
	ws      *websocket.Conn
	welcome Welcome

	rbuf bytes.Buffer // owned by the reader

	wmu  sync.Mutex // serializes writes; guards wbuf
	wbuf []byte
}

// Dial connects to the native endpoint at rawURL (ws://host:port/v1/rooms/
// {room_id}/ws, see URL) and reads the welcome, all within ctx. A refusal
// before the upgrade is a *RefusedError.
func Dial(ctx context.Context, rawURL string, opts Options) (*Conn, error) {
	hdr := http.Header{}
	for k, v := range opts.HTTPHeader {
		hdr[k] = append([]string(nil), v...)
	}
	if opts.Token != "" {
		hdr.Set("Authorization", "Bearer "+opts.Token)
	}
	ws, resp, err := websocket.Dial(ctx, rawURL, &websocket.DialOptions{HTTPClient: opts.HTTPClient, HTTPHeader: hdr})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, refused(resp)
		}
		return nil, fmt.Errorf("client: dial %s: %w", rawURL, err)
	}
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	ws.SetReadLimit(limit)
	c := &Conn{ws: ws}
	p, err := c.Recv(ctx)
	if err != nil {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("client: waiting for the welcome: %w", err)
	}
	if p.Type != TypeWelcome {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("%w: got %q", ErrNoWelcome, p.Type)
	}
	c.welcome = Welcome{ConnectionID: p.ConnectionID, RoomID: p.RoomID, User: p.User, Participants: p.Participants}
	return c, nil
}

// refused reads a refusal response; websocket.Dial leaves up to 1 KiB of
// its body in resp.Body.
func refused(resp *http.Response) error {
	e := &RefusedError{Status: resp.StatusCode}
	if resp.Body == nil {
		return e
	}
	b, _ := io.ReadAll(resp.Body)
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	}
	return e
}

// Welcome returns the welcome the gateway sent when the connection opened.
func (c *Conn) Welcome() Welcome { return c.welcome }

// Send sends a signal. Data must be one valid JSON value (ErrBadData
// otherwise); it travels byte for byte.
func (c *Conn) Send(ctx context.Context, s Signal) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := AppendSignal(c.wbuf[:0], s)
	if err != nil {
		return err
	}
	c.wbuf = b
	return c.write(ctx, b)
}

// SendRaw sends frame as one text frame, as it is: a caller that builds its
// own frames (see AppendSignal) skips the check of Send. frame may be reused
// once SendRaw returns.
func (c *Conn) SendRaw(ctx context.Context, frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(ctx, frame)
}

func (c *Conn) write(ctx context.Context, frame []byte) error {
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		return fmt.Errorf("client: send: %w", err)
	}
	return nil
}

// Recv reads and decodes the next packet.
func (c *Conn) Recv(ctx context.Context) (Packet, error) {
	b, err := c.RecvRaw(ctx)
	if err != nil {
		return Packet{}, err
	}
	return Decode(b)
}

// RecvRaw reads the next frame and returns its bytes, which stay valid
// until the next Recv or RecvRaw. When the gateway closes the connection the
// error carries its close code (see CloseStatus).
func (c *Conn) RecvRaw(ctx context.Context) ([]byte, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: recv: %w", err)
	}
	c.rbuf.Reset()
	if _, err := c.rbuf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("client: recv: %w", err)
	}
	if typ != websocket.MessageText {
		return nil, ErrBinaryFrame
	}
	return c.rbuf.Bytes(), nil
}

// Close closes the connection with 1000 and waits (up to 5 s) for the
// gateway's close frame.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	if err != nil && CloseStatus(err) == int(websocket.StatusNormalClosure) {
		err = nil
	}
	return err
}

// CloseNow closes the connection at once, without a close handshake.
func (c *Conn) CloseNow() error { return c.ws.CloseNow() }

// CloseStatus returns the WebSocket close code carried by an error from
// Recv, RecvRaw, Send or Dial (e.g. 1008 for a slow consumer), or -1 when err
// is not a close.
func CloseStatus(err error) int { return int(websocket.CloseStatus(err)) }
