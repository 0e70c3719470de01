// Package native speaks the native Switchboard WebSocket protocol (v1) at
// /v1/rooms/{room_id}/ws: one JSON object per text frame, each with a
// string "type".
//
// Client data is passed through byte for byte: packets are assembled around
// it, never re-encoded. Dialect is stateless and safe for concurrent use.
package native

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/jsonscan"
)

// Dialect is the native protocol.
type Dialect struct{}

var _ dialect.Dialect = Dialect{}

const (
	prefix = "/v1/rooms/"
	suffix = "/ws"
)

// Name implements dialect.Dialect.
func (Dialect) Name() string { return contract.DialectNative }

// Room implements dialect.Dialect: /v1/rooms/{room_id}/ws.
func (Dialect) Room(p string) (string, bool) {
	if strings.HasPrefix(p, prefix) && strings.HasSuffix(p, suffix) && len(p) >= len(prefix)+len(suffix) {
		return p[len(prefix) : len(p)-len(suffix)], true
	}
	return "", false
}

// Token implements dialect.Dialect: Authorization: Bearer, else the
// access_token query parameter.
func (Dialect) Token(r *http.Request) (string, bool) {
	if t := Bearer(r); t != "" {
		return t, false
	}
	return r.URL.Query().Get("access_token"), false
}

// Bearer returns the token of an Authorization: Bearer header, or "".
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

var refusals = [...]struct{ code, message string }{
	dialect.BadRoomID:    {"bad_room_id", "room id must be 1 to 128 characters of A-Z a-z 0-9 _ -"},
	dialect.Unauthorized: {"unauthorized", "a valid token is required"},
	dialect.Forbidden:    {"forbidden", "not allowed in this room"},
	dialect.Unavailable:  {"unavailable", "the service is unavailable, try again"},
	dialect.NotWebSocket: {"not_websocket", "this endpoint expects a WebSocket upgrade"},
}

// Refuse implements dialect.Dialect with a JSON body
// {"error":{"code","message"}}.
func (Dialect) Refuse(w http.ResponseWriter, why dialect.Refusal) {
	r := refusals[why]
	WriteError(w, why.Status(), r.code, r.message)
}

// WriteError writes a refusal in the native shape; other dialects that
// have no refusal shape of their own use it too.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b := []byte(`{"error":{"code":`)
	b = jsonscan.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = jsonscan.AppendString(b, message)
	b = append(b, "}}\n"...)
	_, _ = w.Write(b)
}

// Parse implements dialect.Dialect: a signal frame
// {"type":"signal","data":...,"to"|"to_user":...,"id":...}. Unknown fields
// are ignored. The id comes back in errors whenever it could be read.
func (Dialect) Parse(frame []byte) (dialect.Signal, *dialect.Error) {
	var (
		s                dialect.Signal
		typ              string
		hasType, hasData bool
		hasTo, hasToUser bool
		wrong            string // the first field with a wrong type
		dataLen          int
		o                = jsonscan.Get(frame)
	)
	defer jsonscan.Put(o)
	str := func(field string, dst *string, present *bool) {
		v, null, err := o.String()
		switch {
		case err != nil && wrong == "":
			wrong = field
		case err == nil && !null:
			*dst, *present = v, true
		}
	}
	for name := range o.Fields() {
		switch {
		case jsonscan.Name(name, "type"):
			str("type", &typ, &hasType)
		case jsonscan.Name(name, "data"):
			if v, ok := o.Raw(); ok {
				s.Data, dataLen, hasData = v, len(v), true
			}
		case jsonscan.Name(name, "to"):
			str("to", &s.To, &hasTo)
		case jsonscan.Name(name, "to_user"):
			str("to_user", &s.ToUser, &hasToUser)
		case jsonscan.Name(name, "id"):
			if v, ok := o.Raw(); ok {
				s.Ref = ref(v)
			}
		default:
			o.Skip()
		}
	}
	fail := func(code, msg string) (dialect.Signal, *dialect.Error) {
		return dialect.Signal{}, &dialect.Error{Code: code, Message: msg, Ref: s.Ref}
	}
	switch {
	case o.Err() != nil:
		return fail(dialect.CodeBadRequest, "frame is not a JSON object")
	case wrong != "":
		return fail(dialect.CodeBadRequest, "field "+wrong+" has the wrong type")
	case !hasType:
		return fail(dialect.CodeBadRequest, "missing type")
	case typ != "signal":
		return fail(dialect.CodeBadRequest, "unknown type "+quote(typ))
	case !hasData:
		return fail(dialect.CodeBadRequest, "signal without data")
	case dataLen > dialect.MaxData:
		return fail(dialect.CodeTooLarge, "data is larger than 64 KiB")
	case hasTo && hasToUser:
		return fail(dialect.CodeBadRequest, "give to or to_user, not both")
	case hasTo && s.To == "", hasToUser && s.ToUser == "":
		return fail(dialect.CodeBadRequest, "empty target")
	}
	return s, nil
}

// ref returns a string id unquoted and any other JSON value as written
// (null: none; over 256 bytes: dropped).
func ref(v []byte) string {
	switch {
	case len(v) == 0 || string(v) == "null" || len(v) > 256+2:
		return ""
	case v[0] == '"':
		return jsonscan.Unquote(v)
	case len(v) > 256:
		return ""
	}
	return string(v)
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return string(jsonscan.AppendString(nil, s))
}

// Error implements dialect.Dialect: {"type":"error","code","message","ref"}.
func (Dialect) Error(e *dialect.Error) []byte {
	b := []byte(`{"type":"error","code":`)
	b = jsonscan.AppendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = jsonscan.AppendString(b, e.Message)
	if e.Ref != "" {
		b = append(b, `,"ref":`...)
		b = jsonscan.AppendString(b, e.Ref)
	}
	return append(b, '}')
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

// Welcome implements dialect.Dialect.
func (Dialect) Welcome(self contract.Participant, roomID string, others []contract.Participant) []byte {
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
	}{"welcome", self.ConnectionID, roomID, self.User, ps})
}

// Tells implements dialect.Dialect: native clients hear of every
// connection.
func (Dialect) Tells(string, string, int) bool { return true }

// Joined implements dialect.Dialect.
func (Dialect) Joined(p contract.Participant) []byte {
	return mustJSON(struct {
		Type        string      `json:"type"`
		Participant participant `json:"participant"`
	}{"joined", toWire(p)})
}

// Left implements dialect.Dialect.
func (Dialect) Left(p contract.Participant, reason string) []byte {
	w := toWire(p)
	w.JoinedAt = nil
	return mustJSON(struct {
		Type        string      `json:"type"`
		Participant participant `json:"participant"`
		Reason      string      `json:"reason"`
	}{"left", w, reason})
}

// RenderSignal implements dialect.Dialect. A signal from a dialect that
// names its messages arrives as {"type":kind,"data":...}.
func (Dialect) RenderSignal(s *contract.Signal, _ string) []byte {
	b := make([]byte, 0, len(s.Data)+len(s.Kind)+160)
	b = append(b, `{"type":"signal","from":{"connection_id":`...)
	b = jsonscan.AppendString(b, s.From.ConnectionID)
	b = append(b, `,"user":`...)
	b = contract.AppendUser(b, s.From.User)
	b = append(b, '}')
	if s.To != "" {
		b = append(b, `,"to":`...)
		b = jsonscan.AppendString(b, s.To)
	}
	if s.ToUser != "" {
		b = append(b, `,"to_user":`...)
		b = jsonscan.AppendString(b, s.ToUser)
	}
	b = append(b, `,"data":`...)
	if s.Kind != "" && s.Dialect != contract.DialectNative {
		b = append(b, `{"type":`...)
		b = jsonscan.AppendString(b, s.Kind)
		b = append(b, `,"data":`...)
		b = append(b, s.Data...)
		b = append(b, '}')
	} else {
		b = append(b, s.Data...)
	}
	return append(b, '}')
}

// mustJSON marshals values built here from strings and times, which cannot
// fail to encode.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
