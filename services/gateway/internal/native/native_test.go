package native

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

func TestParse(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxData) + `"`
	tests := []struct {
		name    string
		frame   string
		want    Signal
		errCode string
		errRef  string
	}{
		{name: "broadcast", frame: `{"type":"signal","data":{"kind":"offer"}}`, want: Signal{Data: json.RawMessage(`{"kind":"offer"}`)}},
		{name: "directed", frame: `{"type":"signal","data":1,"to":"c_1","id":"r7"}`, want: Signal{Data: json.RawMessage(`1`), To: "c_1", Ref: "r7"}},
		{name: "to user", frame: `{"type":"signal","data":null,"to_user":"bob"}`, want: Signal{Data: json.RawMessage(`null`), ToUser: "bob"}},
		{name: "unknown fields ignored", frame: `{"type":"signal","data":[],"extra":{"a":1}}`, want: Signal{Data: json.RawMessage(`[]`)}},
		{name: "numeric id is a ref", frame: `{"type":"signal","data":{},"id":42}`, want: Signal{Data: json.RawMessage(`{}`), Ref: "42"}},
		{name: "not json", frame: `hello`, errCode: CodeBadRequest},
		{name: "array", frame: `[1,2]`, errCode: CodeBadRequest},
		{name: "no type", frame: `{"data":{},"id":"x"}`, errCode: CodeBadRequest, errRef: "x"},
		{name: "type not a string", frame: `{"type":5,"id":"x"}`, errCode: CodeBadRequest, errRef: "x"},
		{name: "unknown type", frame: `{"type":"dance","id":"x"}`, errCode: CodeBadRequest, errRef: "x"},
		{name: "no data", frame: `{"type":"signal"}`, errCode: CodeBadRequest},
		{name: "both targets", frame: `{"type":"signal","data":1,"to":"c","to_user":"u"}`, errCode: CodeBadRequest},
		{name: "empty target", frame: `{"type":"signal","data":1,"to":""}`, errCode: CodeBadRequest},
		{name: "target not a string", frame: `{"type":"signal","data":1,"to":7}`, errCode: CodeBadRequest},
		{name: "data 64 KiB", frame: `{"type":"signal","data":` + big[:MaxData-1] + `"}`, want: Signal{Data: json.RawMessage(big[:MaxData-1] + `"`)}},
		{name: "data over 64 KiB", frame: `{"type":"signal","data":` + big + `,"id":"big"}`, errCode: CodeTooLarge, errRef: "big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, perr := Parse([]byte(tt.frame))
			if tt.errCode != "" {
				if perr == nil || perr.Code != tt.errCode || perr.Ref != tt.errRef || perr.Message == "" {
					t.Fatalf("Parse = %+v, %+v; want error %s ref %q", got, perr, tt.errCode, tt.errRef)
				}
				return
			}
			if perr != nil {
				t.Fatalf("Parse error %+v", perr)
			}
			if string(got.Data) != string(tt.want.Data) || got.To != tt.want.To || got.ToUser != tt.want.ToUser || got.Ref != tt.want.Ref {
				t.Fatalf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRenderSignalKeepsBytes(t *testing.T) {
	data := `{"n": 9007199254740993,  "sdp":"v=0\r\n<x>"}`
	s := &contract.Signal{From: contract.Sender{ConnectionID: "c_1", User: contract.User{ID: "bob"}, GatewayID: "g"}, ToUser: "alice", Dialect: contract.DialectNative, Data: json.RawMessage(data)}
	got := string(RenderSignal(s))
	want := `{"type":"signal","from":{"connection_id":"c_1","user":{"id":"bob"}},"to_user":"alice","data":` + data + `}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	s.Dialect, s.Kind, s.ToUser = contract.DialectDyson, "offer", ""
	got = string(RenderSignal(s))
	want = `{"type":"signal","from":{"connection_id":"c_1","user":{"id":"bob"}},"data":{"type":"offer","data":` + data + `}}`
	if got != want {
		t.Fatalf("dyson origin: got  %s\nwant %s", got, want)
	}
}

func TestPackets(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	p := contract.Participant{ConnectionID: "c_9", User: contract.User{ID: "bob"}, GatewayID: "g1", JoinedAt: at}
	checks := map[string]string{
		string(Welcome("c_7", "r1", contract.User{ID: "alice", Name: "Alice"}, nil)):        `{"type":"welcome","connection_id":"c_7","room_id":"r1","user":{"id":"alice","name":"Alice"},"participants":[]}`,
		string(Welcome("c_7", "r1", contract.User{ID: "alice"}, []contract.Participant{p})): `{"type":"welcome","connection_id":"c_7","room_id":"r1","user":{"id":"alice"},"participants":[{"connection_id":"c_9","user":{"id":"bob"},"joined_at":"2026-11-20T10:00:00Z"}]}`,
		string(Joined(p)):         `{"type":"joined","participant":{"connection_id":"c_9","user":{"id":"bob"},"joined_at":"2026-11-20T10:00:00Z"}}`,
		string(Left(p, "closed")): `{"type":"left","participant":{"connection_id":"c_9","user":{"id":"bob"}},"reason":"closed"}`,
		string(ErrorPacket(&Error{Code: CodeBadRequest, Message: "m", Ref: "r"})): `{"type":"error","code":"bad_request","message":"m","ref":"r"}`,
		string(ErrorPacket(&Error{Code: CodeTooLarge, Message: "m"})):             `{"type":"error","code":"too_large","message":"m"}`,
	}
	for got, want := range checks {
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"type":"signal","data":{"kind":"offer","sdp":"v=0"}}`,
		`{"type":"signal","data":1,"to":"c_1","id":"r"}`,
		`{"type":"signal","data":{},"to_user":"bob"}`,
		`{"type":"x"}`, `{}`, `[]`, `null`, `"s"`, `{"type":"signal","data":`, `{"id":{"a":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		s, perr := Parse(frame)
		if perr != nil {
			if perr.Code == "" || perr.Message == "" {
				t.Fatalf("error without code or message: %+v", perr)
			}
			if !json.Valid(ErrorPacket(perr)) {
				t.Fatalf("error packet is not JSON: %s", ErrorPacket(perr))
			}
			return
		}
		if !json.Valid(s.Data) || len(s.Data) > MaxData {
			t.Fatalf("accepted bad data %q", s.Data)
		}
		out := RenderSignal(&contract.Signal{Dialect: contract.DialectNative, To: s.To, ToUser: s.ToUser, Data: s.Data})
		if !json.Valid(out) {
			t.Fatalf("rendered invalid JSON: %s", out)
		}
	})
}
