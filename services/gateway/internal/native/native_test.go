package native

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
	"github.com/switchboard-rtc/switchboard/shared/contract"
)

type Signal = dialect.Signal

const (
	MaxData        = dialect.MaxData
	CodeBadRequest = dialect.CodeBadRequest
	CodeTooLarge   = dialect.CodeTooLarge
)

var d Dialect

func TestParse(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxData) + `"`
	tests := []struct {
		name    string
		frame   string
		want    Signal
		errCode string
		errRef  string
	}{
		{name: "broadcast", frame: `{"type":"signal","data":{"kind":"offer"}}`, want: Signal{Data: []byte(`{"kind":"offer"}`)}},
		{name: "directed", frame: `{"type":"signal","data":1,"to":"c_1","id":"r7"}`, want: Signal{Data: []byte(`1`), To: "c_1", Ref: "r7"}},
		{name: "to user", frame: `{"type":"signal","data":null,"to_user":"bob"}`, want: Signal{Data: []byte(`null`), ToUser: "bob"}},
		{name: "unknown fields ignored", frame: `{"type":"signal","data":[],"extra":{"a":1}}`, want: Signal{Data: []byte(`[]`)}},
		{name: "numeric id is a ref", frame: `{"type":"signal","data":{},"id":42}`, want: Signal{Data: []byte(`{}`), Ref: "42"}},
		{name: "not json", frame: `hello`, errCode: CodeBadRequest},
		{name: "array", frame: `[1,2]`, errCode: CodeBadRequest},
		{name: "no type", frame: `{"data":{},"id":"x"}`, errCode: CodeBadRequest, errRef: "x"},
		{name: "type not a string", frame: `{"type":5,"id":"x"}`, errCode: CodeBadRequest, errRef: "x"},
		{name: "unknown type", frame: `{"type":"dance","id":"x"}`, errCode: CodeBadRequest, errRef: "x"},
		{name: "no data", frame: `{"type":"signal"}`, errCode: CodeBadRequest},
		{name: "both targets", frame: `{"type":"signal","data":1,"to":"c","to_user":"u"}`, errCode: CodeBadRequest},
		{name: "empty target", frame: `{"type":"signal","data":1,"to":""}`, errCode: CodeBadRequest},
		{name: "target not a string", frame: `{"type":"signal","data":1,"to":7}`, errCode: CodeBadRequest},
		{name: "data 64 KiB", frame: `{"type":"signal","data":` + big[:MaxData-1] + `"}`, want: Signal{Data: []byte(big[:MaxData-1] + `"`)}},
		{name: "data over 64 KiB", frame: `{"type":"signal","data":` + big + `,"id":"big"}`, errCode: CodeTooLarge, errRef: "big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, perr := d.Parse([]byte(tt.frame))
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

func TestParseMore(t *testing.T) {
	tests := []struct {
		name, frame, code, ref string
	}{
		{"escaped names are names", `{"\u0074ype":"signal","data":1,"id":"e"}`, "", "e"},
		{"duplicate field", `{"type":"signal","type":"signal","data":1}`, CodeBadRequest, ""},
		{"trailing garbage", `{"type":"signal","data":1} {}`, CodeBadRequest, ""},
		{"invalid utf-8 in data", "{\"type\":\"signal\",\"data\":\"\xff\",\"id\":\"u\"}", CodeBadRequest, ""},
		{"ref read after a wrong type", `{"type":"signal","data":1,"to":5,"id":"late"}`, CodeBadRequest, "late"},
		{"null target is no target", `{"type":"signal","data":1,"to":null}`, "", ""},
		{"long ref dropped", `{"type":"x","id":"` + strings.Repeat("r", 300) + `"}`, CodeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, perr := d.Parse([]byte(tt.frame))
			switch {
			case tt.code == "" && perr != nil:
				t.Fatalf("Parse error %+v", perr)
			case tt.code == "" && s.Ref != tt.ref:
				t.Fatalf("ref %q, want %q", s.Ref, tt.ref)
			case tt.code != "" && (perr == nil || perr.Code != tt.code || perr.Ref != tt.ref):
				t.Fatalf("Parse = %+v, %+v; want %s ref %q", s, perr, tt.code, tt.ref)
			}
		})
	}
}

func TestRoomAndRefuse(t *testing.T) {
	for path, want := range map[string]string{"/v1/rooms/r1/ws": "r1", "/v1/rooms//ws": "", "/v1/rooms/a/b/ws": "a/b"} {
		if got, ok := d.Room(path); !ok || got != want {
			t.Errorf("Room(%q) = %q, %v", path, got, ok)
		}
	}
	if _, ok := d.Room("/v1/rooms/ws"); ok {
		t.Error("Room matched a path without a room")
	}
	w := httptest.NewRecorder()
	d.Refuse(w, dialect.Unauthorized)
	if w.Code != 401 || w.Body.String() != `{"error":{"code":"unauthorized","message":"a valid token is required"}}`+"\n" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("refusal %d %q", w.Code, w.Body)
	}
}

func TestRenderSignalKeepsBytes(t *testing.T) {
	data := `{"n": 9007199254740993,  "sdp":"v=0\r\n<x>"}`
	s := &contract.Signal{From: contract.Sender{ConnectionID: "c_1", User: contract.User{ID: "bob"}, GatewayID: "g"}, ToUser: "alice", Dialect: contract.DialectNative, Data: json.RawMessage(data)}
	got := string(d.RenderSignal(s, ""))
	want := `{"type":"signal","from":{"connection_id":"c_1","user":{"id":"bob"}},"to_user":"alice","data":` + data + `}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	s.Dialect, s.Kind, s.ToUser = contract.DialectDyson, "offer", ""
	got = string(d.RenderSignal(s, ""))
	want = `{"type":"signal","from":{"connection_id":"c_1","user":{"id":"bob"}},"data":{"type":"offer","data":` + data + `}}`
	if got != want {
		t.Fatalf("dyson origin: got  %s\nwant %s", got, want)
	}
}

func TestPackets(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	p := contract.Participant{ConnectionID: "c_9", User: contract.User{ID: "bob"}, GatewayID: "g1", JoinedAt: at}
	checks := map[string]string{
		string(d.Welcome(contract.Participant{ConnectionID: "c_7", User: contract.User{ID: "alice", Name: "Alice"}}, "r1", nil)):        `{"type":"welcome","connection_id":"c_7","room_id":"r1","user":{"id":"alice","name":"Alice"},"participants":[]}`,
		string(d.Welcome(contract.Participant{ConnectionID: "c_7", User: contract.User{ID: "alice"}}, "r1", []contract.Participant{p})): `{"type":"welcome","connection_id":"c_7","room_id":"r1","user":{"id":"alice"},"participants":[{"connection_id":"c_9","user":{"id":"bob"},"joined_at":"2026-11-20T10:00:00Z"}]}`,
		string(d.Joined(p)):         `{"type":"joined","participant":{"connection_id":"c_9","user":{"id":"bob"},"joined_at":"2026-11-20T10:00:00Z"}}`,
		string(d.Left(p, "closed")): `{"type":"left","participant":{"connection_id":"c_9","user":{"id":"bob"}},"reason":"closed"}`,
		string(d.Error(&dialect.Error{Code: CodeBadRequest, Message: "m", Ref: "r"})): `{"type":"error","code":"bad_request","message":"m","ref":"r"}`,
		string(d.Error(&dialect.Error{Code: CodeTooLarge, Message: "m"})):             `{"type":"error","code":"too_large","message":"m"}`,
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
		s, perr := d.Parse(frame)
		if perr != nil {
			if perr.Code == "" || perr.Message == "" {
				t.Fatalf("error without code or message: %+v", perr)
			}
			if !json.Valid(d.Error(perr)) {
				t.Fatalf("error packet is not JSON: %s", d.Error(perr))
			}
			return
		}
		if !json.Valid(s.Data) || len(s.Data) > MaxData {
			t.Fatalf("accepted bad data %q", s.Data)
		}
		out := d.RenderSignal(&contract.Signal{Dialect: contract.DialectNative, To: s.To, ToUser: s.ToUser, Data: s.Data}, "")
		if !json.Valid(out) {
			t.Fatalf("rendered invalid JSON: %s", out)
		}
	})
}
