package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ base, room, want string }{
		{"ws://127.0.0.1:8080", "demo", "ws://127.0.0.1:8080/v1/rooms/demo/ws"},
		{"wss://rtc.example.com/", "a_b-1", "wss://rtc.example.com/v1/rooms/a_b-1/ws"},
		{"ws://h/prefix", "x y", "ws://h/prefix/v1/rooms/x%20y/ws"},
	} {
		if got := URL(tc.base, tc.room); got != tc.want {
			t.Errorf("URL(%q, %q) = %q, want %q", tc.base, tc.room, got, tc.want)
		}
	}
}

func TestAppendSignal(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Signal
		want string
	}{
		{"broadcast keeps data byte for byte", Signal{Data: json.RawMessage(`{ "n": 9007199254740993 }`)}, `{"type":"signal","data":{ "n": 9007199254740993 }}`},
		{"to and id", Signal{Data: json.RawMessage(`1`), To: "c_abc", ID: "q1"}, `{"type":"signal","data":1,"to":"c_abc","id":"q1"}`},
		{"to_user", Signal{Data: json.RawMessage(`null`), ToUser: "bob"}, `{"type":"signal","data":null,"to_user":"bob"}`},
		{"strings are escaped", Signal{Data: json.RawMessage(`"x"`), ID: "a\"b\\c\né"}, `{"type":"signal","data":"x","id":"a\"b\\c\né"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := AppendSignal([]byte("keep"), tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != "keep"+tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			if !json.Valid(b[4:]) {
				t.Fatalf("frame is not JSON: %s", b[4:])
			}
		})
	}
	for _, data := range []string{``, `{`, `1,"to":"c_x"`, `{"a":1} {"b":2}`} {
		if _, err := AppendSignal(nil, Signal{Data: json.RawMessage(data)}); !errors.Is(err, ErrBadData) {
			t.Errorf("data %q: %v, want ErrBadData", data, err)
		}
	}
}

func TestDecode(t *testing.T) {
	welcome := `{"type":"welcome","connection_id":"c_me","room_id":"demo","user":{"id":"alice","name":"Alice"},` +
		`"participants":[{"connection_id":"c_bob","user":{"id":"bob"},"joined_at":"2026-11-20T10:00:00.123456Z"}]}`
	p, err := Decode([]byte(welcome))
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != TypeWelcome || p.ConnectionID != "c_me" || p.RoomID != "demo" || p.User != (User{ID: "alice", Name: "Alice"}) ||
		len(p.Participants) != 1 || p.Participants[0].User.ID != "bob" || p.Participants[0].JoinedAt.Nanosecond() != 123456000 {
		t.Fatalf("welcome: %+v", p)
	}

	frame := []byte(`{"type":"signal","from":{"connection_id":"c_bob","user":{"id":"bob"}},"to":"c_me","data":{"n": 9007199254740993}}`)
	p, err = Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	copy(frame, strings.Repeat("x", len(frame))) // Data must not alias the frame
	if p.From.ConnectionID != "c_bob" || p.To != "c_me" || string(p.Data) != `{"n": 9007199254740993}` {
		t.Fatalf("signal: %+v data %s", p, p.Data)
	}

	p, err = Decode([]byte(`{"type":"left","participant":{"connection_id":"c_bob","user":{"id":"bob"}},"reason":"kicked"}`))
	if err != nil || p.Participant.ConnectionID != "c_bob" || p.Reason != "kicked" || !p.Participant.JoinedAt.IsZero() {
		t.Fatalf("left: %+v %v", p, err)
	}
	p, err = Decode([]byte(`{"type":"error","code":"rate_limited","message":"too many frames, slow down","ref":"q1"}`))
	if err != nil || p.Code != CodeRateLimited || p.Ref != "q1" {
		t.Fatalf("error: %+v %v", p, err)
	}
	p, err = Decode([]byte(`{"type":"future","whatever":[1,2]}`))
	if err != nil || p.Type != "future" {
		t.Fatalf("unknown type: %+v %v", p, err)
	}
	for _, bad := range []string{``, `[]`, `{"type":5}`, `{}`, `{"type":""}`, `not json`} {
		if _, err := Decode([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q): %v, want ErrMalformed", bad, err)
		}
	}
}

// TestDialRefusals covers refusals whose body is not the gateway's JSON (a
// proxy's error page) and a first packet that is not a welcome; refusals
// by a real gateway are tested end to end in services/switchboard.
func TestDialRefusals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/proxy":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		case "/json":
			if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Extra") != "1" {
				w.WriteHeader(http.StatusTeapot)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"not allowed in this room"}}`))
		case "/nowelcome":
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer ws.CloseNow()
			ws.Write(r.Context(), websocket.MessageText, []byte(`{"type":"joined","participant":{"connection_id":"c_x","user":{"id":"x"}}}`))
			ws.Read(r.Context())
		}
	}))
	defer srv.Close()
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, tc := range []struct {
		path, code string
		status     int
	}{
		{"/proxy", "", http.StatusBadGateway},
		{"/json", CodeForbidden, http.StatusForbidden},
	} {
		_, err := Dial(ctx, ws+tc.path, Options{Token: "tok", HTTPHeader: http.Header{"X-Extra": {"1"}}})
		var r *RefusedError
		if !errors.As(err, &r) || r.Status != tc.status || r.Code != tc.code {
			t.Errorf("%s: %v, want a refusal %d %q", tc.path, err, tc.status, tc.code)
		}
	}
	if _, err := Dial(ctx, ws+"/nowelcome", Options{}); !errors.Is(err, ErrNoWelcome) {
		t.Errorf("joined first: %v, want ErrNoWelcome", err)
	}
}
