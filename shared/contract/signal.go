package contract

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-rtc/switchboard/shared/jsonscan"
)

// A signal payload is JSON with its data last, so that the routing fields
// come first and the data is spliced in byte for byte (json.Marshal would
// compact a RawMessage and rewrite its whitespace). Gateways build the fixed
// part once per connection (SignalPrefix) and append the rest per signal
// (AppendSignal); receivers read it with DecodeSignal.

// SignalPrefix returns the part of every signal from one connection that
// never changes: `{"room_id":...,"from":{...},"dialect":...`, unclosed.
func SignalPrefix(roomID string, from Sender, dialect string) []byte {
	b := []byte(`{"room_id":`)
	b = jsonscan.AppendString(b, roomID)
	b = append(b, `,"from":{"connection_id":`...)
	b = jsonscan.AppendString(b, from.ConnectionID)
	b = append(b, `,"user":`...)
	b = AppendUser(b, from.User)
	b = append(b, `,"gateway_id":`...)
	b = jsonscan.AppendString(b, from.GatewayID)
	b = append(b, `},"dialect":`...)
	return jsonscan.AppendString(b, dialect)
}

// AppendSignal appends to dst a whole signal payload: prefix (from
// SignalPrefix), the optional target and kind, and data as written (null
// when empty).
func AppendSignal(dst, prefix []byte, to, toUser, kind string, data []byte) []byte {
	dst = append(dst, prefix...)
	if to != "" {
		dst = append(dst, `,"to":`...)
		dst = jsonscan.AppendString(dst, to)
	}
	if toUser != "" {
		dst = append(dst, `,"to_user":`...)
		dst = jsonscan.AppendString(dst, toUser)
	}
	if kind != "" {
		dst = append(dst, `,"kind":`...)
		dst = jsonscan.AppendString(dst, kind)
	}
	dst = append(dst, `,"data":`...)
	if len(data) == 0 {
		data = []byte("null")
	}
	dst = append(dst, data...)
	return append(dst, '}')
}

// Encode returns s as a signal payload.
func (s *Signal) Encode() []byte {
	return AppendSignal(nil, SignalPrefix(s.RoomID, s.From, s.Dialect), s.To, s.ToUser, s.Kind, s.Data)
}

// AppendUser appends u as JSON, leaving out empty name and nick.
func AppendUser(dst []byte, u User) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonscan.AppendString(dst, u.ID)
	if u.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = jsonscan.AppendString(dst, u.Name)
	}
	if u.Nick != "" {
		dst = append(dst, `,"nick":`...)
		dst = jsonscan.AppendString(dst, u.Nick)
	}
	return append(dst, '}')
}

// ErrBadSignal is returned (wrapped) for a payload that is not a signal.
var ErrBadSignal = errors.New("malformed signal")

// DecodeSignal reads a signal payload into s, in any field order, ignoring
// unknown fields. s.Data aliases payload; a missing data is null.
func DecodeSignal(payload []byte, s *Signal) error {
	o := jsonscan.Get(payload)
	defer jsonscan.Put(o)
	*s = Signal{}
	for name := range o.Fields() {
		var err error
		switch {
		case jsonscan.Name(name, "room_id"):
			s.RoomID, _, err = o.String()
		case jsonscan.Name(name, "from"):
			_, err = o.Object(func(n []byte) (err error) {
				switch {
				case jsonscan.Name(n, "connection_id"):
					s.From.ConnectionID, _, err = o.String()
				case jsonscan.Name(n, "gateway_id"):
					s.From.GatewayID, _, err = o.String()
				case jsonscan.Name(n, "user"):
					_, err = decodeUser(o, &s.From.User)
				default:
					o.Skip()
				}
				return err
			})
		case jsonscan.Name(name, "to"):
			s.To, _, err = o.String()
		case jsonscan.Name(name, "to_user"):
			s.ToUser, _, err = o.String()
		case jsonscan.Name(name, "dialect"):
			s.Dialect, _, err = o.String()
		case jsonscan.Name(name, "kind"):
			s.Kind, _, err = o.String()
		case jsonscan.Name(name, "data"):
			s.Data, _ = o.Raw()
		default:
			o.Skip()
		}
		if err != nil {
			return fmt.Errorf("%w: field %s: %v", ErrBadSignal, name, err)
		}
	}
	if err := o.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignal, err)
	}
	if len(s.Data) == 0 {
		s.Data = json.RawMessage("null")
	}
	return nil
}

func decodeUser(o *jsonscan.Object, u *User) (bool, error) {
	return o.Object(func(n []byte) (err error) {
		switch {
		case jsonscan.Name(n, "id"):
			u.ID, _, err = o.String()
		case jsonscan.Name(n, "name"):
			u.Name, _, err = o.String()
		case jsonscan.Name(n, "nick"):
			u.Nick, _, err = o.String()
		default:
			o.Skip()
		}
		return err
	})
}
