package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Packet types a gateway sends.
const (
	TypeWelcome = "welcome"
	TypeJoined  = "joined"
	TypeLeft    = "left"
	TypeSignal  = "signal"
	TypeError   = "error"
)

// Error codes of error packets and refusals, as the protocol defines them.
const (
	CodeBadRequest    = "bad_request"
	CodeTooLarge      = "too_large"
	CodeRateLimited   = "rate_limited"
	CodeUnknownTarget = "unknown_target"

	CodeBadRoomID    = "bad_room_id"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeUnavailable  = "unavailable"
	CodeNotWebSocket = "not_websocket"
)

// ErrMalformed is returned (wrapped) by Decode for a frame that is not a
// JSON object with a string type.
var ErrMalformed = errors.New("client: malformed packet")

// User is a user as the gateway shows it, taken from a token.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Nick string `json:"nick,omitempty"`
}

// Participant is one connection in a room. JoinedAt is zero where the
// packet does not carry it (left packets, the from of a signal).
type Participant struct {
	ConnectionID string    `json:"connection_id"`
	User         User      `json:"user"`
	JoinedAt     time.Time `json:"joined_at,omitzero"`
}

// Welcome is the first packet of a connection.
type Welcome struct {
	ConnectionID string        // this connection's id
	RoomID       string        // the room it is in
	User         User          // the user of its token
	Participants []Participant // every other connection in the room, oldest first
}

// Packet is one packet from the gateway. Type says which fields are set:
//
//   - welcome: ConnectionID, RoomID, User, Participants
//   - joined: Participant
//   - left: Participant, Reason (closed, gateway_lost or kicked)
//   - signal: From, Data, and To or ToUser when the sender targeted them
//   - error: Code, Message, and Ref when the refused frame had an id
//
// A type this package does not know is returned with only Type set; the
// protocol may grow.
type Packet struct {
	Type string `json:"type"`

	ConnectionID string        `json:"connection_id,omitempty"`
	RoomID       string        `json:"room_id,omitempty"`
	User         User          `json:"user,omitzero"`
	Participants []Participant `json:"participants,omitempty"`

	Participant Participant `json:"participant,omitzero"`
	Reason      string      `json:"reason,omitempty"`

	From   Participant `json:"from,omitzero"`
	To     string      `json:"to,omitempty"`
	ToUser string      `json:"to_user,omitempty"`
	// Data is the sender's data byte for byte, whitespace and all; a large
	// number such as 9007199254740993 is as the sender wrote it.
	Data json.RawMessage `json:"data,omitempty"`

	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Ref     string `json:"ref,omitempty"`
}

// Decode reads one frame from the gateway. Data is copied out of frame, so
// frame may be reused afterwards.
func Decode(frame []byte) (Packet, error) {
	var p Packet
	if err := json.Unmarshal(frame, &p); err != nil {
		return Packet{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if p.Type == "" {
		return Packet{}, fmt.Errorf("%w: no type", ErrMalformed)
	}
	return p, nil
}

// Signal is a signal to send. With neither To nor ToUser it goes to every
// other connection in the room.
type Signal struct {
	Data   json.RawMessage // required: any JSON value, at most 64 KiB
	To     string          // optional: one connection id
	ToUser string          // optional: one user id (not with To)
	ID     string          // optional: echoed as ref if the frame is refused
}

// ErrBadData is returned by AppendSignal and Send for data that is empty or
// not valid JSON: spliced into a frame, it could change the frame's meaning.
var ErrBadData = errors.New("client: signal data must be valid JSON")

// AppendSignal appends the frame of s to dst. Data is written byte for byte,
// after a check that it is one valid JSON value.
func AppendSignal(dst []byte, s Signal) ([]byte, error) {
	if len(s.Data) == 0 || !json.Valid(s.Data) {
		return dst, ErrBadData
	}
	dst = append(dst, `{"type":"signal","data":`...)
	dst = append(dst, s.Data...)
	if s.To != "" {
		dst = appendField(dst, "to", s.To)
	}
	if s.ToUser != "" {
		dst = appendField(dst, "to_user", s.ToUser)
	}
	if s.ID != "" {
		dst = appendField(dst, "id", s.ID)
	}
	return append(dst, '}'), nil
}

// appendField appends ,"name":"value" with value as a JSON string.
func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, `,"`...)
	dst = append(dst, name...)
	dst = append(dst, `":`...)
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b, _ := json.Marshal(value) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, value...)
	return append(dst, '"')
}
