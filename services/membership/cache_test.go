package membership

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// roleOf is the reference for a room's member lookup: a scan of the stored
// list, the first entry of a user winning.
func roleOf(room *contract.Room, userID string) string {
	for _, m := range room.Members {
		if m.UserID == userID {
			return m.Role
		}
	}
	return ""
}

// roomWith returns the access of a members room listing users as members.
func roomWith(users ...string) *access {
	room := &contract.Room{Policy: contract.PolicyMembers}
	for _, u := range users {
		room.Members = append(room.Members, member(u))
	}
	return newAccess(room)
}

// users lists what a cache lookup of id says: nil with found false for no
// room. It fails the test if the cache does not answer.
func users(t *testing.T, c *roomCache, id string) (found bool, ids []string) {
	t.Helper()
	a, ok := c.lookup(id)
	if !ok {
		t.Fatal("cache is not current")
	}
	if a == nil {
		return false, nil
	}
	return true, memberIDs(a)
}

// TestCacheRevisions checks that the cache never goes back to an older
// revision of a room, whichever way the watch and this instance's own
// writes interleave.
func TestCacheRevisions(t *testing.T) {
	type step struct {
		watch bool   // delivered by the watch, else a local write
		rev   uint64 // for a local deletion: the revision it deleted
		users []string
		del   bool
	}
	tests := []struct {
		name      string
		steps     []step
		wantFound bool
		wantUsers []string
	}{
		{"watch then newer local write", []step{{watch: true, rev: 3, users: []string{"bob"}}, {rev: 5, users: []string{"carol"}}}, true, []string{"carol"}},
		{"older watch update after a local write", []step{{rev: 5, users: []string{"carol"}}, {watch: true, rev: 3, users: []string{"bob"}}}, true, []string{"carol"}},
		{"watch catches up with a local write", []step{{rev: 5, users: []string{"carol"}}, {watch: true, rev: 5, users: []string{"carol"}}, {watch: true, rev: 6, users: []string{"dave"}}}, true, []string{"dave"}},
		{"local write older than a watched one", []step{{watch: true, rev: 7, users: []string{"dave"}}, {rev: 5, users: []string{"carol"}}}, true, []string{"dave"}},
		{"local write after the watch saw a newer deletion", []step{{watch: true, rev: 3, users: []string{"bob"}}, {watch: true, rev: 6, del: true}, {rev: 4, users: []string{"carol"}}}, false, nil},
		{"local deletion then an older watch update", []step{{watch: true, rev: 1, users: []string{"x"}}, {rev: 3, del: true}, {watch: true, rev: 3, users: []string{"bob"}}}, false, nil},
		{"local deletion then its own watch update", []step{{rev: 3, del: true}, {watch: true, rev: 4, del: true}}, false, nil},
		{"local deletion then a newer create", []step{{rev: 3, del: true}, {watch: true, rev: 9, users: []string{"erin"}}}, true, []string{"erin"}},
		{"local deletion then a local create", []step{{rev: 3, del: true}, {rev: 9, users: []string{"erin"}}}, true, []string{"erin"}},
		{"local update older than a local deletion", []step{{rev: 3, del: true}, {rev: 3, users: []string{"bob"}}}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newRoomCache()
			c.reset(0)
			c.initialDone(time.Now())
			for _, s := range tt.steps {
				var room *access
				if !s.del {
					room = roomWith(s.users...)
				}
				switch {
				case s.watch:
					c.watched("r", s.rev, room)
				case s.del:
					c.forget(c.generation(), "r", s.rev)
				default:
					c.put(c.generation(), "r", s.rev, room)
				}
			}
			found, got := users(t, c, "r")
			if found != tt.wantFound || strings.Join(got, ",") != strings.Join(tt.wantUsers, ",") {
				t.Errorf("room found %t with %v, want found %t with %v", found, got, tt.wantFound, tt.wantUsers)
			}
		})
	}
}

func TestCacheTombstonesGo(t *testing.T) {
	c := newRoomCache()
	c.reset(0)
	c.initialDone(time.Now())
	c.watched("r", 1, roomWith("bob"))
	c.forget(c.generation(), "r", 1)
	if len(c.tombs) != 1 {
		t.Fatalf("tombstones after a local deletion: %v, want one", c.tombs)
	}
	// The watch passes the deletion (delivering another room's write).
	c.watched("other", 5, roomWith("zoe"))
	if _, ok := c.rooms["r"]; ok || len(c.tombs) != 0 {
		t.Errorf("after the watch passed the deletion: entry %v, tombstones %v; want neither", c.rooms["r"], c.tombs)
	}
	if found, _ := users(t, c, "r"); found {
		t.Error("deleted room found")
	}
}

func TestCacheWriteFromEarlierWatchIsDropped(t *testing.T) {
	c := newRoomCache()
	c.reset(0)
	gen := c.generation()
	c.reset(0) // a new watch starts while the write is under way
	c.put(gen, "r", 4, roomWith("bob"))
	c.initialDone(time.Now())
	if found, _ := users(t, c, "r"); found {
		t.Error("a write begun under the previous watch was applied to the new one; the new watch delivers it")
	}
}

func TestCacheCurrent(t *testing.T) {
	c := newRoomCache()
	if c.current() {
		t.Fatal("a cache that has loaded nothing answers")
	}
	c.reset(10)
	start := time.Now()
	c.watched("r", 4, roomWith("bob"))
	if c.current() {
		t.Fatal("answers before the watch delivered its initial values")
	}
	c.initialDone(start)
	if !c.current() {
		t.Fatal("does not answer after the initial values")
	}
	if c.currentAt(start.Add(maxStale + time.Millisecond)) {
		t.Errorf("answers %v after it was last verified", maxStale+time.Millisecond)
	}

	// A probe at or below what the watch has delivered verifies at once.
	later := start.Add(time.Second)
	if !c.observe(probe{start: later, seq: 10}) || !c.currentAt(later.Add(maxStale)) {
		t.Error("a probe the initial values cover does not verify the cache")
	}
	// One above waits for the watch to deliver it.
	evenLater := later.Add(time.Second)
	if c.observe(probe{start: evenLater, seq: 12}) || c.currentAt(evenLater.Add(maxStale)) {
		t.Error("a probe ahead of the watch verified the cache")
	}
	c.watched("r", 12, roomWith("carol"))
	if !c.currentAt(evenLater.Add(maxStale)) {
		t.Error("the watch delivered the probe's revision but the cache is not verified")
	}

	c.distrust()
	if c.current() {
		t.Error("answers after the connection was lost")
	}
	c.initialDone(start) // started before the loss: verifies nothing
	if c.current() {
		t.Error("verified by something that began before the connection was lost")
	}
}

// memberIDs lists the user ids a holds.
func memberIDs(a *access) []string {
	var ids []string
	for _, m := range a.few {
		ids = append(ids, m.UserID)
	}
	for u := range a.roles {
		ids = append(ids, u)
	}
	return ids
}

// roomSeeds are bucket values: rooms, odd rooms, and values that are not
// rooms.
var roomSeeds = []string{
	`{"room_id":"r","owner_id":"alice","policy":"members","members":[{"user_id":"alice","role":"owner"},{"user_id":"bob","role":"member"}],"created_at":"2025-01-02T03:04:05Z"}`,
	`{"room_id":"r","owner_id":"alice","policy":"open","members":[{"user_id":"alice","role":"owner"}]}`,
	`{"room_id":"r","policy":"public","members":[{"user_id":"bob","role":"member"}]}`,
	`{"policy":"members","members":[{"user_id":"bob","role":"member"},{"user_id":"bob","role":"owner"}]}`,
	`{"policy":"members","members":[{"user_id":"bob","role":"admin"}]}`,
	`{"policy":"members","members":null}`,
	`{"policy":"members","members":[{}]}`,
	`{"policy":"members","created_at":"yesterday"}`,
	`{"policy":7}`,
	`{"members":{"bob":"member"}}`,
	`{}`, `null`, `[]`, `""`, `nope`, ``, "\x00\xff",
}

// FuzzDecodeAccess decodes arbitrary bucket values: the cache's view of a
// room answers exactly as the stored room read in full does (the same
// policy, the same role for every user), and a value that is not a room is
// an error, never a missing room.
func FuzzDecodeAccess(f *testing.F) {
	for _, s := range roomSeeds {
		f.Add([]byte(s), "bob")
	}
	f.Fuzz(func(t *testing.T, data []byte, user string) {
		a := decodeAccess(data)
		var room contract.Room
		err := json.Unmarshal(data, &room)
		if (err != nil) != (a.err != nil) {
			t.Fatalf("%q: full decode error %v, cache decode error %v", data, err, a.err)
		}
		if err != nil {
			return
		}
		if a.policy != room.Policy {
			t.Errorf("%q: policy %q, want %q", data, a.policy, room.Policy)
		}
		if got, want := a.role(user), roleOf(&room, user); got != want {
			t.Errorf("%q: role of %q is %q, want %q", data, user, got, want)
		}
		for _, m := range room.Members {
			if got, want := a.role(m.UserID), roleOf(&room, m.UserID); got != want {
				t.Errorf("%q: role of %q is %q, want %q", data, m.UserID, got, want)
			}
		}
	})
}
