// Package dyson reads and writes the frames of the DysonNetwork chat
// signaling dialect: WebSocketPacket envelopes {"type","data"} carrying
// SignalingMessages, in the snake_case JSON the real server sends.
//
// Every function is pure and safe for concurrent use. Signal data is passed
// through byte for byte.
package dyson

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// MaxData is the largest encoded signal data a client may send.
const MaxData = 64 << 10

// Presence kinds, sent as signals with empty data.
const (
	KindUserJoined = "user-joined"
	KindUserLeft   = "user-left"
)

// Signal is a SignalingMessage a client sent.
type Signal struct {
	Kind string          // the message type: "offer", "answer", ...
	Data json.RawMessage // as the client wrote it; {} when absent
	To   string          // an account id, or ""
}

// account is the account object: every field present, as the original sends it.
type account struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Nick string `json:"nick"`
}

func accountOf(u contract.User) account { return account{u.ID, u.Name, u.Nick} }

// Parse reads one client frame. The envelope's type is not read; data must
// be a SignalingMessage. On failure it returns why, for an error packet.
func Parse(frame []byte) (Signal, string) {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(frame, &env); err != nil {
		return Signal{}, "packet is not a JSON object"
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return Signal{}, "packet has no data"
	}
	var msg struct {
		Type *string         `json:"type"`
		Data json.RawMessage `json:"data"`
		To   *string         `json:"to"`
	}
	if err := json.Unmarshal(env.Data, &msg); err != nil {
		return Signal{}, "data is not a SignalingMessage: " + err.Error()
	}
	switch {
	case msg.Type == nil || *msg.Type == "":
		return Signal{}, "SignalingMessage has no type"
	case len(msg.Data) > MaxData:
		return Signal{}, "signal data is larger than 64 KiB"
	}
	s := Signal{Kind: *msg.Type, Data: msg.Data}
	if len(s.Data) == 0 {
		s.Data = json.RawMessage("{}")
	}
	if msg.To != nil {
		s.To = *msg.To
	}
	return s, ""
}

// ErrorPacket renders an error packet.
func ErrorPacket(why string) []byte {
	return mustJSON(struct {
		Type         string `json:"type"`
		Data         any    `json:"data"`
		ErrorMessage string `json:"error_message"`
	}{"error", nil, why})
}

type participant struct {
	Identity  string    `json:"identity"`
	Name      string    `json:"name"`
	AccountID string    `json:"account_id"`
	Account   account   `json:"account"`
	JoinedAt  time.Time `json:"joined_at"`
}

// Welcome renders the first packet: one participant per other account in
// the room (the earliest of its connections), never the caller's own.
func Welcome(roomID string, self contract.User, others []contract.Participant, now time.Time) []byte {
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
	type welcome struct {
		UserID       string        `json:"user_id"`
		RoomID       string        `json:"room_id"`
		Message      string        `json:"message"`
		Timestamp    string        `json:"timestamp"`
		Participants []participant `json:"participants"`
	}
	return mustJSON(struct {
		Type string  `json:"type"`
		Data welcome `json:"data"`
	}{"webrtc", welcome{self.ID, roomID, "Connected to call of #" + roomID + ".", now.UTC().Format(time.RFC3339), ps}})
}

// Presence renders user-joined or user-left for u.
func Presence(kind string, u contract.User) []byte {
	return packet(kind, json.RawMessage("{}"), "", u)
}

// RenderSignal renders a relayed signal for a receiver whose account is
// receiver. A native signal's kind is its data's "type" (or "kind"), and a
// native signal shaped like a SignalingMessage is unwrapped.
func RenderSignal(s *contract.Signal, receiver string) []byte {
	kind, data := s.Kind, s.Data
	if s.Dialect != contract.DialectDyson {
		kind, data = fromNative(s.Data)
	}
	to := s.ToUser
	if s.To != "" {
		to = receiver
	}
	return packet(kind, data, to, s.From.User)
}

// fromNative names a native signal's kind and picks its payload.
func fromNative(d json.RawMessage) (string, json.RawMessage) {
	var probe struct {
		Type *string         `json:"type"`
		Kind *string         `json:"kind"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(d, &probe) != nil {
		return "signal", d
	}
	switch {
	case probe.Type != nil && len(probe.Data) > 0:
		return *probe.Type, probe.Data
	case probe.Type != nil:
		return *probe.Type, d
	case probe.Kind != nil:
		return *probe.Kind, d
	}
	return "signal", d
}

func packet(kind string, data json.RawMessage, to string, from contract.User) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + 160)
	b.WriteString(`{"type":"webrtc.signal","data":{"type":`)
	b.Write(mustJSON(kind))
	b.WriteString(`,"data":`)
	b.Write(data)
	b.WriteString(`,"to":`)
	if to == "" {
		b.WriteString("null")
	} else {
		b.Write(mustJSON(to))
	}
	b.WriteString(`,"account_id":`)
	b.Write(mustJSON(from.ID))
	b.WriteString(`,"account":`)
	b.Write(mustJSON(accountOf(from)))
	b.WriteString("}}")
	return b.Bytes()
}

// mustJSON marshals values built here from strings and times, which cannot
// fail to encode.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
