package presence

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// FuzzDecodeRoom feeds room values as they could be found in the bucket
// (written by an older or foreign writer): decoding never panics, and what
// decodes lists as many participants as it holds.
func FuzzDecodeRoom(f *testing.F) {
	f.Add([]byte(`{"participants":[{"connection_id":"c1","user":{"id":"u"},"gateway_id":"g","joined_at":"2026-01-02T03:04:05Z","lease":"L1"}]}`))
	f.Add([]byte(`{"participants":[]}`))
	f.Add([]byte(`{"participants":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"participants":[{"joined_at":"not a time"}]}`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeRoom(data)
		if err != nil {
			return
		}
		ps := participants(entries, "")
		if ps == nil || len(ps) != len(entries) {
			t.Fatalf("participants of %d entries = %v", len(entries), ps)
		}
	})
}

// kvKey is what nats.go accepts as a KV key.
var kvKey = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

// FuzzCheckJoin feeds join requests: whatever checkJoin accepts makes valid
// KV keys and a valid event subject.
func FuzzCheckJoin(f *testing.F) {
	f.Add([]byte(`{"room_id":"r1","participant":{"connection_id":"c1","user":{"id":"u"},"gateway_id":"g"},"lease":"L1"}`))
	f.Add([]byte(`{"room_id":"a.b","participant":{"connection_id":"c1","user":{"id":"u"},"gateway_id":"g"},"lease":"L1"}`))
	f.Add([]byte(`{"room_id":"r1","participant":{"connection_id":"c1","user":{"id":"u"},"gateway_id":"g"},"lease":"L.>"}`))
	f.Add([]byte(`{"room_id":"r1","participant":{"connection_id":"c1","user":{"id":"u"},"gateway_id":"*"},"lease":"L1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req contract.JoinRequest
		if json.Unmarshal(data, &req) != nil || checkJoin(&req) != nil {
			return
		}
		for _, key := range []string{roomKey(req.RoomID), leaseKey(req.Lease)} {
			if !kvKey.MatchString(key) {
				t.Fatalf("accepted %s, which makes the invalid key %q", data, key)
			}
		}
		if _, err := subject.RoomPresence(req.RoomID); err != nil {
			t.Fatalf("accepted %s, but no subject: %v", data, err)
		}
		if req.Participant.ConnectionID == "" || req.Participant.User.ID == "" {
			t.Fatalf("accepted %s without a connection or user id", data)
		}
	})
}
