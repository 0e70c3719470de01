package contract

import (
	"encoding/json"
	"testing"
)

func TestSignalEncodeKeepsDataBytes(t *testing.T) {
	data := `{ "n": 9007199254740993, "s":"<a&b>" ,"x" : [1, 2] }`
	s := &Signal{RoomID: "r1", From: Sender{ConnectionID: "c_1", User: User{ID: "alice"}, GatewayID: "g1"}, To: "c_2", Dialect: DialectNative, Data: json.RawMessage(data)}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"room_id":"r1","from":{"connection_id":"c_1","user":{"id":"alice"},"gateway_id":"g1"},"to":"c_2","dialect":"native","data":` + data + `}`
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
