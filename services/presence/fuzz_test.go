package presence

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// FuzzDecodeRoom feeds room values of the older layout (rooms.<room_id>) as
// they could be found in a bucket to migrate: decoding never panics, and
// what decodes lists as many participants as it holds.
func FuzzDecodeRoom(f *testing.F) {
	f.Add([]byte(`{"participants":[{"connection_id":"c1","user":{"id":"u"},"gateway_id":"g","joined_at":"2026-01-02T03:04:05Z","lease":"L1"}]}`))
	f.Add([]byte(`{"participants":[]}`))
	f.Add([]byte(`{"participants":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"participants":[{"joined_at":"not a time"}]}`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeLegacyRoom(data)
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
	f.Add([]byte(`{"room_id":"r1","participant":{"connection_id":"c.1","user":{"id":"u"},"gateway_id":"g"},"lease":"L1"}`))
	f.Add([]byte(`{"room_id":"r1","participant":{"connection_id":"c_Hq81vXe0aJ3mT5uWcB7dLg","user":{"id":"u"},"gateway_id":"g"},"lease":"L1"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req contract.JoinRequest
		if json.Unmarshal(data, &req) != nil || checkJoin(&req) != nil {
			return
		}
		for _, key := range []string{roomKey(req.RoomID, req.Participant.ConnectionID), leaseKey(req.Lease)} {
			if !kvKey.MatchString(key) {
				t.Fatalf("accepted %s, which makes the invalid key %q", data, key)
			}
		}
		if room, conn, ok := splitRoomKey(roomKey(req.RoomID, req.Participant.ConnectionID)); !ok || room != req.RoomID || conn != req.Participant.ConnectionID {
			t.Fatalf("accepted %s, whose key splits into %q, %q, %v", data, room, conn, ok)
		}
		if _, err := subject.RoomPresence(req.RoomID); err != nil {
			t.Fatalf("accepted %s, but no subject: %v", data, err)
		}
		if req.Participant.ConnectionID == "" || req.Participant.User.ID == "" {
			t.Fatalf("accepted %s without a connection or user id", data)
		}
	})
}

// FuzzRoomKey feeds room keys with a value stored under them and a marker
// that may remove it later, through the mirror, as the watcher would
// deliver them: nothing panics, a key splits back into the ids it was
// built from, and the room at a revision shows the connection only under
// its own key, carrying the revision it joined at, and only when the rule
// says: joined at or before that revision and not removed by then (a
// marker alone tells through the entry it carries).
func FuzzRoomKey(f *testing.F) {
	entryValue := []byte(`{"connection_id":"c1","user":{"id":"u","name":"U"},"gateway_id":"g","joined_at":"2026-01-02T03:04:05Z","lease":"L1"}`)
	markerValue := []byte(`{"connection_id":"c1","user":{"id":"u"},"gateway_id":"g","joined_at":"2026-01-02T03:04:05Z","lease":"L1","joined_revision":7}`)
	f.Add("rooms.r1.c1", true, entryValue, uint64(7), markerValue, uint64(5), uint64(9))
	f.Add("rooms.r1.c1", true, entryValue, uint64(7), markerValue, uint64(5), uint64(12))
	f.Add("rooms.r1.c1", true, entryValue, uint64(7), []byte(nil), uint64(0), uint64(6))
	f.Add("rooms.r1.c1", false, []byte(nil), uint64(7), markerValue, uint64(5), uint64(9))
	f.Add("rooms.r1.c1", false, []byte(nil), uint64(7), markerValue, uint64(5), uint64(3))
	f.Add("rooms.r1.c2", true, entryValue, uint64(7), markerValue, uint64(1), uint64(7))
	f.Add("rooms.r1", true, []byte(`{"participants":[]}`), uint64(1), []byte(nil), uint64(0), uint64(1))
	f.Add("rooms.r1.c1.x", true, entryValue, uint64(1), []byte(nil), uint64(0), uint64(1))
	f.Add("rooms..c1", true, []byte(`{"connection_id":"c1","joined_at":"soon"}`), uint64(1), []byte(nil), uint64(0), uint64(1))
	f.Add("fences.X1", false, []byte(nil), uint64(1), []byte(nil), uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, key string, live bool, value []byte, seq uint64, marker []byte, gap, at uint64) {
		roomID, connID, ok := splitRoomKey(key)
		if ok && connID == "" && legacyRoomKey(roomID) != key {
			t.Fatalf("%q splits into room %q, which gives back %q", key, roomID, legacyRoomKey(roomID))
		}
		if ok && connID != "" && roomKey(roomID, connID) != key {
			t.Fatalf("%q splits into %q, %q, which give back %q", key, roomID, connID, roomKey(roomID, connID))
		}
		if seq == 0 || seq+gap < seq {
			return
		}
		m := newMirror(time.Minute)
		now := time.Now()
		if live {
			m.apply(key, jetstream.KeyValuePut, value, seq, now)
		}
		if gap > 0 {
			m.apply(key, jetstream.KeyValuePurge, marker, seq+gap, now)
		}
		entries, last := m.at(roomID, at)
		if last > at {
			t.Fatalf("last change %d after revision %d", last, at)
		}
		var want bool
		var joined uint64
		if ok && connID != "" {
			if _, err := decodeEntry(connID, value); live && err == nil {
				want, joined = seq <= at && (gap == 0 || seq+gap > at), seq
			} else if mk, err := decodeEntry(connID, marker); gap > 0 && err == nil && mk.Joined != 0 && mk.Joined < seq+gap {
				want, joined = mk.Joined <= at && seq+gap > at, mk.Joined
			}
		}
		if !want {
			if len(entries) != 0 {
				t.Fatalf("room at %d = %+v, want nobody", at, entries)
			}
			return
		}
		if len(entries) != 1 {
			t.Fatalf("room at %d = %+v, want %s", at, entries, connID)
		}
		e := entries[0]
		if e.ConnectionID != connID || e.Revision != joined || e.Joined != 0 {
			t.Fatalf("room at %d = %+v, want %s joined at %d", at, e, connID, joined)
		}
		if ps := participants(entries, ""); len(ps) != 1 || ps[0].ConnectionID != connID {
			t.Fatalf("participants = %+v", ps)
		}
	})
}
