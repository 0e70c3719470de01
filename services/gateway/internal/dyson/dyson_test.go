package dyson

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
	"github.com/switchboard-rtc/switchboard/shared/contract"
)

type Signal = dialect.Signal

const MaxData = dialect.MaxData

var d Dialect

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		want  Signal
		bad   bool
	}{
		{name: "offer", frame: `{"type":"webrtc.signal","data":{"type":"offer","data":{"sdp":"v=0","type":"offer"}}}`, want: Signal{Kind: "offer", Data: []byte(`{"sdp":"v=0","type":"offer"}`)}},
		{name: "envelope type not read", frame: `{"type":"anything","data":{"type":"answer","data":{},"to":"bob"}}`, want: Signal{Kind: "answer", Data: []byte(`{}`), ToUser: "bob"}},
		{name: "to null", frame: `{"data":{"type":"ice-candidate","data":{"candidate":"c"},"to":null}}`, want: Signal{Kind: "ice-candidate", Data: []byte(`{"candidate":"c"}`)}},
		{name: "no inner data", frame: `{"data":{"type":"hangup"}}`, want: Signal{Kind: "hangup", Data: []byte(`{}`)}},
		{name: "not json", frame: `nope`, bad: true},
		{name: "no data", frame: `{"type":"webrtc.signal"}`, bad: true},
		{name: "data null", frame: `{"data":null}`, bad: true},
		{name: "data not an object", frame: `{"data":"offer"}`, bad: true},
		{name: "no type", frame: `{"data":{"data":{}}}`, bad: true},
		{name: "to not a string", frame: `{"data":{"type":"offer","to":5}}`, bad: true},
		{name: "too large", frame: `{"data":{"type":"offer","data":"` + strings.Repeat("x", MaxData) + `"}}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := d.Parse([]byte(tt.frame))
			if tt.bad {
				if why == nil {
					t.Fatalf("Parse accepted %s: %+v", tt.frame, got)
				}
				return
			}
			if why != nil || got.Kind != tt.want.Kind || string(got.Data) != string(tt.want.Data) || got.ToUser != tt.want.ToUser {
				t.Fatalf("Parse = %+v, %q; want %+v", got, why, tt.want)
			}
		})
	}
}

func TestRenderSignal(t *testing.T) {
	bob := contract.User{ID: "bob", Name: "Bob"}
	from := contract.Sender{ConnectionID: "c_1", User: bob, GatewayID: "g"}
	tests := []struct {
		name     string
		sig      contract.Signal
		receiver string
		want     string
	}{
		{"dyson broadcast", contract.Signal{From: from, Dialect: contract.DialectDyson, Kind: "offer", Data: json.RawMessage(`{"sdp":"x"}`)}, "alice",
			`{"type":"webrtc.signal","data":{"type":"offer","data":{"sdp":"x"},"to":null,"account_id":"bob","account":{"id":"bob","name":"Bob","nick":""}}}`},
		{"dyson directed", contract.Signal{From: from, Dialect: contract.DialectDyson, Kind: "answer", ToUser: "alice", Data: json.RawMessage(`{}`)}, "alice",
			`{"type":"webrtc.signal","data":{"type":"answer","data":{},"to":"alice","account_id":"bob","account":{"id":"bob","name":"Bob","nick":""}}}`},
		{"native with type", contract.Signal{From: from, Dialect: contract.DialectNative, Data: json.RawMessage(`{"type":"offer","sdp":"x"}`)}, "alice",
			`{"type":"webrtc.signal","data":{"type":"offer","data":{"type":"offer","sdp":"x"},"to":null,"account_id":"bob","account":{"id":"bob","name":"Bob","nick":""}}}`},
		{"native shaped like dyson, to a connection", contract.Signal{From: from, Dialect: contract.DialectNative, To: "c_2", Data: json.RawMessage(`{"type":"answer","data":{"sdp":"y"}}`)}, "alice",
			`{"type":"webrtc.signal","data":{"type":"answer","data":{"sdp":"y"},"to":"alice","account_id":"bob","account":{"id":"bob","name":"Bob","nick":""}}}`},
		{"native with kind", contract.Signal{From: from, Dialect: contract.DialectNative, Data: json.RawMessage(`{"kind":"candidate"}`)}, "alice",
			`{"type":"webrtc.signal","data":{"type":"candidate","data":{"kind":"candidate"},"to":null,"account_id":"bob","account":{"id":"bob","name":"Bob","nick":""}}}`},
		{"native scalar", contract.Signal{From: from, Dialect: contract.DialectNative, Data: json.RawMessage(`7`)}, "alice",
			`{"type":"webrtc.signal","data":{"type":"signal","data":7,"to":null,"account_id":"bob","account":{"id":"bob","name":"Bob","nick":""}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(d.RenderSignal(&tt.sig, tt.receiver)); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestWelcome(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	alice := contract.User{ID: "alice", Name: "Alice"}
	bob := contract.User{ID: "bob", Name: "Bob", Nick: "b"}
	others := []contract.Participant{
		{ConnectionID: "c_2", User: bob, JoinedAt: t0.Add(time.Minute)},
		{ConnectionID: "c_3", User: bob, JoinedAt: t0},
		{ConnectionID: "c_4", User: alice, JoinedAt: t0}, // the caller's own second connection
	}
	got := string(welcome("chat1", alice, others, t0))
	want := `{"type":"webrtc","data":{"user_id":"alice","room_id":"chat1","message":"Connected to call of #chat1.","timestamp":"2026-11-20T10:00:00Z","participants":[{"identity":"bob","name":"Bob","account_id":"bob","account":{"id":"bob","name":"Bob","nick":"b"},"joined_at":"2026-11-20T10:00:00Z"}]}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := string(welcome("chat1", alice, nil, t0)); !strings.Contains(got, `"participants":[]`) {
		t.Fatalf("alone: %s", got)
	}
	if got := string(d.Error(&dialect.Error{Message: "why"})); got != `{"type":"error","data":null,"error_message":"why"}` {
		t.Fatalf("error packet %s", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"type":"webrtc.signal","data":{"type":"offer","data":{"sdp":"v=0"}}}`,
		`{"data":{"type":"answer","to":"bob"}}`, `{"data":{"type":1}}`, `{}`, `[]`, `null`, `{"data":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		s, why := d.Parse(frame)
		if why != nil {
			if !json.Valid(d.Error(why)) {
				t.Fatalf("error packet is not JSON")
			}
			return
		}
		if s.Kind == "" || !json.Valid(s.Data) || len(s.Data) > MaxData {
			t.Fatalf("accepted bad signal %+v", s)
		}
		out := d.RenderSignal(&contract.Signal{Dialect: contract.DialectDyson, Kind: s.Kind, ToUser: s.ToUser, Data: s.Data}, "")
		if !json.Valid(out) {
			t.Fatalf("rendered invalid JSON: %s", out)
		}
	})
}
