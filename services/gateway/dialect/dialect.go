// Package dialect defines what a wire protocol must provide for the gateway
// to speak it: how a client is admitted, how its frames become core
// operations, and how core events become its frames.
//
// The gateway's core (rooms, connections, presence views, fan-out) knows
// dialects only through this interface. Adding a dialect is a package that
// implements Dialect plus one line in the gateway's list of dialects.
//
// Implementations are stateless values, safe for concurrent use; every
// method is pure apart from writing to the http.ResponseWriter it is given.
package dialect

import (
	"net/http"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// MaxData is the largest encoded signal data a client may send, in every
// dialect.
const MaxData = 64 << 10

// Refusal is why an attempt to connect is refused before the upgrade.
type Refusal int

// Refusals, in the order the gateway checks them.
const (
	BadRoomID Refusal = iota
	Unauthorized
	Forbidden
	Unavailable
	NotWebSocket
)

var refusalStatus = [...]int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable, http.StatusBadRequest}

// Status is the HTTP status of a refusal.
func (r Refusal) Status() int { return refusalStatus[r] }

// Error codes of refused client frames. Dialects that have no codes on the
// wire render only the message.
const (
	CodeBadRequest    = "bad_request"
	CodeTooLarge      = "too_large"
	CodeRateLimited   = "rate_limited"
	CodeUnknownTarget = "unknown_target"
)

// Error is a refused client frame, sent back in the dialect's error shape;
// the connection stays open.
type Error struct {
	Code    string
	Message string
	Ref     string // the client's id for the frame, echoed where the dialect can
}

// Signal is a client frame that asks the core to relay a signal.
type Signal struct {
	Kind   string // the signaling message type, where the dialect names one
	Data   []byte // as the client wrote it; aliases the frame
	To     string // one connection id, or ""
	ToUser string // every connection of one user id, or ""
	Ref    string // the client's id for the frame, or ""
}

// A Dialect is one wire protocol.
type Dialect interface {
	// Name is the dialect's name in signals, presence and metrics.
	Name() string

	// Room returns the room id a request path names, and whether the
	// path is this dialect's at all. The id is checked by the core.
	Room(path string) (roomID string, ok bool)
	// Token returns the client's token from where the dialect puts it;
	// fromCookie says it came from a cookie, which a browser sends
	// cross-site by itself.
	Token(r *http.Request) (token string, fromCookie bool)
	// Refuse writes a refusal as the dialect's clients expect it.
	Refuse(w http.ResponseWriter, why Refusal)

	// Parse reads one client text frame.
	Parse(frame []byte) (Signal, *Error)
	// Error renders a refused frame.
	Error(e *Error) []byte

	// Welcome renders the first frame: self's own participant and every
	// other participant in the room, ordered by join time.
	Welcome(self contract.Participant, roomID string, others []contract.Participant) []byte
	// Tells reports whether a receiver whose user is self hears of a
	// connection of user joining or leaving, given how many other
	// connections of that user the receiver knows of in the room besides
	// the one that comes or goes.
	Tells(self, user string, others int) bool
	// Joined and Left render presence changes.
	Joined(p contract.Participant) []byte
	Left(p contract.Participant, reason string) []byte
	// RenderSignal renders a relayed signal for a receiver whose user is
	// receiver. The output may depend on receiver only for a signal with
	// To set, which has one receiver: other signals are rendered once per
	// dialect and the frame is shared.
	RenderSignal(s *contract.Signal, receiver string) []byte
}
