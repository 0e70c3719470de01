// Package dyson speaks the DysonNetwork chat signaling dialect at
// /api/chat/realtime/{chat_id}: WebSocketPacket envelopes {"type","data"}
// carrying SignalingMessages, in the snake_case JSON the real server sends.
//
// Signal data is passed through byte for byte. Dialect is stateless and
// safe for concurrent use.
package dyson

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
	"github.com/switchboard-rtc/switchboard/services/gateway/internal/native"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/jsonscan"
)

// Dialect is the DysonNetwork dialect.
type Dialect struct{}

var _ dialect.Dialect = Dialect{}

const prefix = "/api/chat/realtime/"

// Presence kinds, sent as signals with empty data.
const (
	KindUserJoined = "user-joined"
	KindUserLeft   = "user-left"
)

// Name implements dialect.Dialect.
func (Dialect) Name() string { return contract.DialectDyson }

// Room implements dialect.Dialect: /api/chat/realtime/{chat_id}.
func (Dialect) Room(p string) (string, bool) {
	if strings.HasPrefix(p, prefix) {
		return p[len(prefix):], true
	}
	return "", false
}

// Token implements dialect.Dialect: query tk, then Authorization: Bearer,
// then the AuthToken cookie.
func (Dialect) Token(r *http.Request) (string, bool) {
	if t := r.URL.Query().Get("tk"); t != "" {
		return t, false
	}
	if t := native.Bearer(r); t != "" {
		return t, false
	}
	if c, err := r.Cookie("AuthToken"); err == nil {
		return c.Value, true
	}
	return "", false
}

var refusals = [...]string{
	dialect.BadRoomID:    "Bad Request: invalid chat id",
	dialect.Unauthorized: "Unauthorized",
	dialect.Forbidden:    "Forbidden: Not a member of this chat room",
	dialect.Unavailable:  "Service Unavailable",
	dialect.NotWebSocket: "Bad Request: WebSocket connection expected",
}

// Refuse implements dialect.Dialect with the original's plain-text bodies.
func (Dialect) Refuse(w http.ResponseWriter, why dialect.Refusal) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(why.Status())
	_, _ = w.Write([]byte(refusals[why]))
}

// Parse implements dialect.Dialect. The envelope's type is not read; data
// must be a SignalingMessage {"type","data","to"}.
func (Dialect) Parse(frame []byte) (dialect.Signal, *dialect.Error) {
	var s dialect.Signal
	var why string
	hasData, hasType := false, false
	o := jsonscan.Get(frame)
	defer jsonscan.Put(o)
	for name := range o.Fields() {
		if !jsonscan.Name(name, "data") {
			o.Skip()
			continue
		}
		present, err := o.Object(func(n []byte) (err error) {
			switch {
			case jsonscan.Name(n, "type"):
				var null bool
				s.Kind, null, err = o.String()
				hasType = !null && s.Kind != ""
			case jsonscan.Name(n, "data"):
				s.Data, _ = o.Raw()
			case jsonscan.Name(n, "to"):
				s.To, _, err = o.String()
			default:
				o.Skip()
			}
			return err
		})
		hasData = present
		if err == jsonscan.ErrWrongType && why == "" {
			why = "data is not a SignalingMessage"
		}
	}
	fail := func(msg string) (dialect.Signal, *dialect.Error) {
		return dialect.Signal{}, &dialect.Error{Code: dialect.CodeBadRequest, Message: msg}
	}
	switch {
	case o.Err() != nil:
		return fail("packet is not a JSON object")
	case why != "":
		return fail(why)
	case !hasData:
		return fail("packet has no data")
	case !hasType:
		return fail("SignalingMessage has no type")
	case len(s.Data) > dialect.MaxData:
		return dialect.Signal{}, &dialect.Error{Code: dialect.CodeTooLarge, Message: "signal data is larger than 64 KiB"}
	}
	if len(s.Data) == 0 || string(s.Data) == "null" {
		s.Data = []byte("{}")
	}
	// Dyson's "to" names an account: every connection of that user.
	s.ToUser, s.To = s.To, ""
	return s, nil
}

// Error implements dialect.Dialect: {"type":"error","data":null,"error_message":...}.
func (Dialect) Error(e *dialect.Error) []byte {
	b := []byte(`{"type":"error","data":null,"error_message":`)
	b = jsonscan.AppendString(b, e.Message)
	return append(b, '}')
}

// account is the account object: every field present, as the original sends it.
type account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Nick string `json:"nick"`
}

func accountOf(u contract.User) account { return account{u.ID, u.Name, u.Nick} }

type participant struct {
	Identity  string    `json:"identity"`
	Name      string    `json:"name"`
	AccountID string    `json:"account_id"`
	Account   account   `json:"account"`
	JoinedAt  time.Time `json:"joined_at"`
}

// Welcome implements dialect.Dialect: one participant per other account in
// the room (the earliest of its connections), never the caller's own.
func (Dialect) Welcome(self contract.Participant, roomID string, others []contract.Participant) []byte {
	return welcome(roomID, self.User, others, time.Now())
}

func welcome(roomID string, self contract.User, others []contract.Participant, now time.Time) []byte {
	byAccount := map[string]*participant{}
	for _, p := range others {
		if p.User.ID == self.ID {
			continue
		}
		at := p.JoinedAt.UTC()
		if q, ok := byAccount[p.User.ID]; ok {
			if at.Before(q.JoinedAt) {
				q.JoinedAt = at
			}
			continue
		}
		byAccount[p.User.ID] = &participant{p.User.ID, p.User.Name, p.User.ID, accountOf(p.User), at}
	}
	ps := make([]participant, 0, len(byAccount))
	for _, q := range byAccount {
		ps = append(ps, *q)
	}
	sort.Slice(ps, func(i, j int) bool {
		if !ps[i].JoinedAt.Equal(ps[j].JoinedAt) {
			return ps[i].JoinedAt.Before(ps[j].JoinedAt)
		}
		return ps[i].AccountID < ps[j].AccountID
	})
	type body struct {
		UserID       string        `json:"user_id"`
		RoomID       string        `json:"room_id"`
		Message      string        `json:"message"`
		Timestamp    string        `json:"timestamp"`
		Participants []participant `json:"participants"`
	}
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Data body   `json:"data"`
	}{"webrtc", body{self.ID, roomID, "Connected to call of #" + roomID + ".", now.UTC().Format(time.RFC3339), ps}})
	return b
}

// Tells implements dialect.Dialect: Dyson clients hear of an account's
// first connection arriving and its last leaving, never of their own.
func (Dialect) Tells(self, user string, others int) bool {
	return user != self && others == 0
}

// Joined implements dialect.Dialect.
func (Dialect) Joined(p contract.Participant) []byte {
	return packet(KindUserJoined, []byte("{}"), "", p.User)
}

// Left implements dialect.Dialect.
func (Dialect) Left(p contract.Participant, _ string) []byte {
	return packet(KindUserLeft, []byte("{}"), "", p.User)
}

// RenderSignal implements dialect.Dialect. A native signal's kind is its
// data's "type" (or "kind"), and a native signal shaped like a
// SignalingMessage is unwrapped. A signal to one connection echoes the
// receiving account as "to".
func (Dialect) RenderSignal(s *contract.Signal, receiver string) []byte {
	kind, data := s.Kind, []byte(s.Data)
	if s.Dialect == contract.DialectNative || kind == "" {
		kind, data = fromNative(s.Data)
	}
	to := s.ToUser
	if s.To != "" {
		to = receiver
	}
	return packet(kind, data, to, s.From.User)
}

// fromNative names a native signal's kind and picks its payload.
func fromNative(d []byte) (string, []byte) {
	var typ, kind string
	var hasType, hasKind bool
	var inner []byte
	o := jsonscan.Get(d)
	defer jsonscan.Put(o)
	for name := range o.Fields() {
		var err error
		var null bool
		switch {
		case jsonscan.Name(name, "type"):
			typ, null, err = o.String()
			hasType = err == nil && !null
		case jsonscan.Name(name, "kind"):
			kind, null, err = o.String()
			hasKind = err == nil && !null
		case jsonscan.Name(name, "data"):
			inner, _ = o.Raw()
		default:
			o.Skip()
		}
		if err != nil {
			return "signal", d
		}
	}
	switch {
	case o.Err() != nil:
		return "signal", d
	case hasType && len(inner) > 0:
		return typ, inner
	case hasType:
		return typ, d
	case hasKind:
		return kind, d
	}
	return "signal", d
}

func packet(kind string, data []byte, to string, from contract.User) []byte {
	b := make([]byte, 0, len(data)+len(kind)+len(to)+200)
	b = append(b, `{"type":"webrtc.signal","data":{"type":`...)
	b = jsonscan.AppendString(b, kind)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, `,"to":`...)
	if to == "" {
		b = append(b, "null"...)
	} else {
		b = jsonscan.AppendString(b, to)
	}
	b = append(b, `,"account_id":`...)
	b = jsonscan.AppendString(b, from.ID)
	b = append(b, `,"account":{"id":`...)
	b = jsonscan.AppendString(b, from.ID)
	b = append(b, `,"name":`...)
	b = jsonscan.AppendString(b, from.Name)
	b = append(b, `,"nick":`...)
	b = jsonscan.AppendString(b, from.Nick)
	return append(b, "}}}"...)
}
