package contract

import (
	"encoding/json"
	"time"
)

// User is the authenticated user behind a connection, taken from the token.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Nick string `json:"nick,omitempty"`
}

// Participant is one connection in a room.
//
// Revision is the presence revision of the participant's join, set by the
// presence service in what it lists and replies (0 where unknown): with the
// revision of a listing or of a joiner's own join, it tells a gateway which
// of its connections have already been told of this participant.
type Participant struct {
	ConnectionID string    `json:"connection_id"`
	User         User      `json:"user"`
	GatewayID    string    `json:"gateway_id,omitempty"`
	JoinedAt     time.Time `json:"joined_at,omitzero"`
	Revision     uint64    `json:"revision,omitempty"`
}

// Sender identifies the connection a signal came from. Gateways stamp it
// from the authenticated connection; clients never choose it.
type Sender struct {
	ConnectionID string `json:"connection_id"`
	User         User   `json:"user"`
	GatewayID    string `json:"gateway_id"`
}

// Dialects a signal may come from.
const (
	DialectNative = "native"
	DialectDyson  = "dyson"
)

// Signal is one relayed signal, published on room.<room_id>.signal.
//
// Data is the client's payload, byte for byte. Kind is the signaling message
// type when the sending dialect names one (Dyson's "offer", "answer", ...);
// with Dialect it lets a receiving gateway render the signal in any dialect.
type Signal struct {
	RoomID  string          `json:"room_id"`
	From    Sender          `json:"from"`
	To      string          `json:"to,omitempty"`
	ToUser  string          `json:"to_user,omitempty"`
	Dialect string          `json:"dialect"`
	Kind    string          `json:"kind,omitempty"`
	Data    json.RawMessage `json:"data"`
}

// Presence event names.
const (
	EventJoined = "joined"
	EventLeft   = "left"
)

// Reasons a participant left.
const (
	ReasonClosed      = "closed"
	ReasonGatewayLost = "gateway_lost"
	ReasonKicked      = "kicked"
)

// PresenceEvent is published on room.<room_id>.presence.
//
// Revision is the room's presence revision that the change produced. Events
// from different presence instances may arrive out of order; revisions of
// one room only grow, so they order them.
type PresenceEvent struct {
	Event       string      `json:"event"`
	Participant Participant `json:"participant"`
	Reason      string      `json:"reason,omitempty"`
	Revision    uint64      `json:"revision,omitempty"`
}
