// Package native reads and writes the frames of the native Switchboard
// WebSocket protocol (v1): one JSON object per text frame, each with a
// string "type".
//
// Every function is pure and safe for concurrent use. Client data is passed
// through byte for byte: packets are assembled around it, never re-encoded.
package native

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// MaxData is the largest encoded signal data a client may send.
const MaxData = 64 << 10

// Error codes sent in error packets.
const (
	CodeBadRequest    = "bad_request"
	CodeTooLarge      = "too_large"
	CodeRateLimited   = "rate_limited"
	CodeUnknownTarget = "unknown_target"
)

// Error is a refused client frame, sent back as an error packet.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

// Signal is a signal a client sent.
type Signal struct {
	Data   json.RawMessage // as the client wrote it
	To     string          // a connection id, or ""
	ToUser string          // a user id, or ""
	Ref    string          // the client's id, echoed in errors
}

type clientFrame struct {
	Type   *string         `json:"type"`
	Data   json.RawMessage `json:"data"`
	To     *string         `json:"to"`
	ToUser *string         `json:"to_user"`
	ID     json.RawMessage `json:"id"`
}

// Parse reads one client frame. It returns the signal, or the error to send
// back; the connection stays open either way.
func Parse(frame []byte) (Signal, *Error) {
	var f clientFrame
	if err := json.Unmarshal(frame, &f); err != nil {
		ref := refOf(frame)
		if _, ok := err.(*json.UnmarshalTypeError); ok {
			return Signal{}, &Error{Code: CodeBadRequest, Message: "a field has the wrong type: " + err.Error(), Ref: ref}
		}
		return Signal{}, &Error{Code: CodeBadRequest, Message: "frame is not a JSON object", Ref: ref}
	}
	ref := refString(f.ID)
	switch {
	case f.Type == nil:
		return Signal{}, &Error{Code: CodeBadRequest, Message: "missing type", Ref: ref}
	case *f.Type != "signal":
		return Signal{}, &Error{Code: CodeBadRequest, Message: "unknown type " + quote(*f.Type), Ref: ref}
	case len(f.Data) == 0:
		return Signal{}, &Error{Code: CodeBadRequest, Message: "signal without data", Ref: ref}
	case len(f.Data) > MaxData:
		return Signal{}, &Error{Code: CodeTooLarge, Message: "data is larger than 64 KiB", Ref: ref}
	case f.To != nil && f.ToUser != nil:
		return Signal{}, &Error{Code: CodeBadRequest, Message: "give to or to_user, not both", Ref: ref}
	case f.To != nil && *f.To == "", f.ToUser != nil && *f.ToUser == "":
		return Signal{}, &Error{Code: CodeBadRequest, Message: "empty target", Ref: ref}
	}
	s := Signal{Data: f.Data, Ref: ref}
	if f.To != nil {
		s.To = *f.To
	}
	if f.ToUser != nil {
		s.ToUser = *f.ToUser
	}
	return s, nil
}

// refOf digs the id out of a frame that did not decode as a whole.
func refOf(frame []byte) string {
	var f struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(frame, &f) != nil {
		return ""
	}
	return refString(f.ID)
}

// refString returns a string id unquoted and any other JSON value as written.
func refString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) > 256 {
		return ""
	}
	return string(raw)
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// participant is a participant as native clients see it.
type participant struct {
	ConnectionID string        `json:"connection_id"`
	User         contract.User `json:"user"`
	JoinedAt     *time.Time    `json:"joined_at,omitempty"`
}

func toWire(p contract.Participant) participant {
	w := participant{ConnectionID: p.ConnectionID, User: p.User}
	if !p.JoinedAt.IsZero() {
		t := p.JoinedAt.UTC()
		w.JoinedAt = &t
	}
	return w
}

// Welcome renders the first packet of a connection.
func Welcome(connectionID, roomID string, user contract.User, others []contract.Participant) []byte {
	ps := make([]participant, 0, len(others))
	for _, p := range others {
		ps = append(ps, toWire(p))
	}
	return mustJSON(struct {
		Type         string        `json:"type"`
		ConnectionID string        `json:"connection_id"`
		RoomID       string        `json:"room_id"`
		User         contract.User `json:"user"`
		Participants []participant `json:"participants"`
	}{"welcome", connectionID, roomID, user, ps})
}

// Joined renders a joined packet.
func Joined(p contract.Participant) []byte {
	return mustJSON(struct {
		Type        string      `json:"type"`
		Participant participant `json:"participant"`
	}{"joined", toWire(p)})
}

// Left renders a left packet.
func Left(p contract.Participant, reason string) []byte {
	w := toWire(p)
	w.JoinedAt = nil
	return mustJSON(struct {
		Type        string      `json:"type"`
		Participant participant `json:"participant"`
		Reason      string      `json:"reason"`
	}{"left", w, reason})
}

// ErrorPacket renders an error packet.
func ErrorPacket(e *Error) []byte {
	return mustJSON(struct {
		Type string `json:"type"`
		*Error
	}{"error", e})
}

// RenderSignal renders a relayed signal. A signal from a Dyson client
// arrives as its SignalingMessage, {"type":kind,"data":...}.
func RenderSignal(s *contract.Signal) []byte {
	head := mustJSON(struct {
		Type   string `json:"type"`
		From   from   `json:"from"`
		To     string `json:"to,omitempty"`
		ToUser string `json:"to_user,omitempty"`
	}{"signal", from{s.From.ConnectionID, s.From.User}, s.To, s.ToUser})
	var b bytes.Buffer
	b.Grow(len(head) + len(s.Data) + len(s.Kind) + 32)
	b.Write(head[:len(head)-1])
	b.WriteString(`,"data":`)
	if s.Dialect == contract.DialectDyson {
		b.WriteString(`{"type":`)
		b.Write(mustJSON(s.Kind))
		b.WriteString(`,"data":`)
		b.Write(s.Data)
		b.WriteByte('}')
	} else {
		b.Write(s.Data)
	}
	b.WriteByte('}')
	return b.Bytes()
}

type from struct {
	ConnectionID string        `json:"connection_id"`
	User         contract.User `json:"user"`
}

// mustJSON marshals values built here from strings, times and raw JSON that
// has already been validated, which cannot fail to encode.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
