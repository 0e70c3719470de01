package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/shared/client"
)

// relayed turns a client frame into the frame a receiver gets: the gateway
// puts from before the data and keeps the data byte for byte.
func relayed(frame []byte) []byte {
	data := bytes.TrimSuffix(bytes.TrimPrefix(frame, []byte(`{"type":"signal","data":`)), []byte("}"))
	return []byte(`{"type":"signal","from":{"connection_id":"c_x","user":{"id":"bench-ab-relay-0-1"}},"data":` + string(data) + `}`)
}

func TestStampRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		st      stamp
		payload int
	}{
		{stamp{0, 1, 0}, 0},
		{stamp{1, 42, 123_456_789}, 64},
		{stamp{7, 1 << 40, 1<<62 + 5}, 1024},
		{stamp{3, 9, 10}, 60 << 10},
	} {
		t.Run(fmt.Sprint(tc.payload), func(t *testing.T) {
			frame := appendFrame([]byte("reused"), tc.st, tc.payload)[len("reused"):]
			var f struct {
				Type string          `json:"type"`
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(frame, &f); err != nil || f.Type != "signal" {
				t.Fatalf("frame %s: %v", frame, err)
			}
			least := len(fmt.Sprintf(`{"src":%d,"seq":%d,"ts":%d,"pad":""}`, tc.st.src, tc.st.seq, tc.st.ts))
			if want := max(tc.payload, least); len(f.Data) != want {
				t.Fatalf("data is %d bytes, want %d", len(f.Data), want)
			}
			got, ok := parseStamp(relayed(frame))
			if !ok || got != tc.st {
				t.Fatalf("parsed %+v %v, want %+v", got, ok, tc.st)
			}
		})
	}
}

func TestParseStampRefuses(t *testing.T) {
	for _, frame := range []string{
		``,
		`{"type":"joined","participant":{"connection_id":"c_x","user":{"id":"a"}}}`,
		`{"type":"signal","from":{},"data":{"kind":"offer"}}`,
		`{"type":"signal","from":{},"data":{"src":1,"seq":2}}`,
		`{"type":"signal","from":{},"data":{"src":-1,"seq":2,"ts":3,"pad":""}}`,
		`{"type":"signal","from":{},"data":{"src":1,"seq":99999999999999999999,"ts":3,"pad":""}}`,
		`{"type":"error","code":"rate_limited","data":{"src":1,"seq":2,"ts":3,"pad":""}}`,
	} {
		if st, ok := parseStamp([]byte(frame)); ok {
			t.Errorf("parseStamp(%s) = %+v", frame, st)
		}
	}
}

func TestErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&client.RefusedError{Status: 401, Code: "unauthorized"}, "unauthorized"},
		{fmt.Errorf("dial: %w", &client.RefusedError{Status: 502}), "http_502"},
		{fmt.Errorf("%w: got %q", client.ErrNoWelcome, "joined"), "no_welcome"},
		{fmt.Errorf("recv: %w", websocket.CloseError{Code: websocket.StatusPolicyViolation, Reason: "slow consumer"}), "closed_1008"},
		{context.DeadlineExceeded, "timeout"},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "connection_refused"},
		{fmt.Errorf("recv: %w", io.EOF), "connection_lost"},
		{errors.New("something else"), "other"},
	} {
		if got := errorCode(tc.err); got != tc.want {
			t.Errorf("errorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
