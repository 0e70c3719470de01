package contract

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestSignalEncodeKeepsDataBytes(t *testing.T) {
	data := `{ "n": 9007199254740993, "s":"<a&b>" ,"x" : [1, 2] }`
	s := &Signal{RoomID: "r1", From: Sender{ConnectionID: "c_1", User: User{ID: "alice"}, GatewayID: "g1"}, To: "c_2", Dialect: DialectNative, Data: json.RawMessage(data)}
	b := s.Encode()
	want := `{"room_id":"r1","from":{"connection_id":"c_1","user":{"id":"alice"},"gateway_id":"g1"},"dialect":"native","to":"c_2","data":` + data + `}`
	if string(b) != want {
		t.Fatalf("Encode =\n%s\nwant\n%s", b, want)
	}
	var back Signal
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if string(back.Data) != data || back.From != s.From || back.To != "c_2" {
		t.Fatalf("round trip = %+v", back)
	}
}

func TestDecodeSignal(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Signal
		bad     bool
	}{
		{name: "as encoded", payload: `{"room_id":"r1","from":{"connection_id":"c_1","user":{"id":"alice","name":"A","nick":"a"},"gateway_id":"g"},"dialect":"dyson","to_user":"bob","kind":"offer","data":{"sdp":"v=0"}}`,
			want: Signal{RoomID: "r1", From: Sender{ConnectionID: "c_1", User: User{ID: "alice", Name: "A", Nick: "a"}, GatewayID: "g"}, Dialect: "dyson", ToUser: "bob", Kind: "offer", Data: json.RawMessage(`{"sdp":"v=0"}`)}},
		{name: "any order, unknown fields, spaces", payload: ` { "data" : [1, 2] , "x":{"y":[null]}, "to":"c_2", "room_id":"r\u0031", "from":{"user":{"id":"u","extra":1},"connection_id":"c_1"}} `,
			want: Signal{RoomID: "r1", From: Sender{ConnectionID: "c_1", User: User{ID: "u"}}, To: "c_2", Data: json.RawMessage(`[1, 2]`)}},
		{name: "no data is null", payload: `{"room_id":"r1"}`, want: Signal{RoomID: "r1", Data: json.RawMessage(`null`)}},
		{name: "null strings", payload: `{"room_id":"r1","to":null,"from":null,"data":1}`, want: Signal{RoomID: "r1", Data: json.RawMessage(`1`)}},
		{name: "not json", payload: `nope`, bad: true},
		{name: "array", payload: `[1]`, bad: true},
		{name: "wrong type", payload: `{"room_id":7}`, bad: true},
		{name: "from not an object", payload: `{"from":"x"}`, bad: true},
		{name: "truncated", payload: `{"room_id":"r1","data":{"a":`, bad: true},
		{name: "trailing garbage", payload: `{"room_id":"r1"} x`, bad: true},
		{name: "duplicate field", payload: `{"to":"a","to":"b"}`, bad: true},
		{name: "invalid utf-8", payload: "{\"room_id\":\"\xff\"}", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Signal
			err := DecodeSignal([]byte(tt.payload), &s)
			if tt.bad {
				if err == nil {
					t.Fatalf("DecodeSignal = %+v, want an error", s)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Data, tt.want.Data) {
				t.Fatalf("data = %s, want %s", s.Data, tt.want.Data)
			}
			s.Data, tt.want.Data = nil, nil
			if s.RoomID != tt.want.RoomID || s.From != tt.want.From || s.To != tt.want.To || s.ToUser != tt.want.ToUser || s.Dialect != tt.want.Dialect || s.Kind != tt.want.Kind {
				t.Fatalf("DecodeSignal = %+v, want %+v", s, tt.want)
			}
		})
	}
}

func FuzzDecodeSignal(f *testing.F) {
	f.Add([]byte(`{"room_id":"r1","from":{"connection_id":"c_1","user":{"id":"alice"},"gateway_id":"g"},"dialect":"native","data":{"a":1}}`))
	f.Add([]byte(`{"from":{"user":{"id":"\u00e9"}},"data":"x"}`))
	f.Add([]byte(`{"data":`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var s Signal
		if DecodeSignal(payload, &s) != nil {
			return
		}
		if !json.Valid(s.Data) {
			t.Fatalf("accepted data that is not JSON: %q", s.Data)
		}
		// What was read encodes again and reads back the same.
		var back Signal
		if err := DecodeSignal(s.Encode(), &back); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", s, err)
		}
		if !bytes.Equal(back.Data, s.Data) || back.RoomID != s.RoomID || back.From != s.From || back.To != s.To || back.ToUser != s.ToUser || back.Dialect != s.Dialect || back.Kind != s.Kind {
			t.Fatalf("round trip changed %+v into %+v", s, back)
		}
	})
}
