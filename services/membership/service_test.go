package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// startService starts an instance on nc, stopped when the test ends.
func startService(t testing.TB, nc *nats.Conn, cfg Config) *Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svc, err := Start(ctx, nc, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return svc
}

// newService starts a NATS server and one instance on it, and returns a
// client connection.
func newService(t testing.TB, cfg Config) *nats.Conn {
	t.Helper()
	s := natstest.Server(t)
	startService(t, natstest.Connect(t, s), cfg)
	return natstest.Connect(t, s)
}

// request sends payload to subj and decodes a successful reply into rep.
// Valid JSON goes through rpc.Call; anything else is sent as raw bytes and
// an error reply is turned into *rpc.Error the same way.
func request(t testing.TB, nc *nats.Conn, subj, payload string, rep any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if json.Valid([]byte(payload)) {
		return rpc.Call(ctx, nc, subj, json.RawMessage(payload), rep)
	}
	msg, err := nc.RequestWithContext(ctx, subj, []byte(payload))
	if err != nil {
		return err
	}
	if c := msg.Header.Get(micro.ErrorCodeHeader); c != "" {
		n, _ := strconv.Atoi(c)
		return &rpc.Error{Code: n, Description: msg.Header.Get(micro.ErrorHeader)}
	}
	return json.Unmarshal(msg.Data, rep)
}

// code is the *rpc.Error code of err, 0 for nil, -1 for any other error.
func code(err error) int {
	var re *rpc.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &re):
		return re.Code
	}
	return -1
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var roomSeq atomic.Int64

// seed creates a fresh room owned by owner and adds members, and returns its id.
func seed(t testing.TB, nc *nats.Conn, owner, policy string, members ...contract.Member) string {
	t.Helper()
	id := fmt.Sprintf("room-%d", roomSeq.Add(1))
	var room contract.Room
	if err := request(t, nc, subject.MembershipRoomsCreate, mustJSON(contract.CreateRoomRequest{RoomID: id, OwnerID: owner, Policy: policy}), &room); err != nil {
		t.Fatalf("seed %s: create: %v", id, err)
	}
	for _, m := range members {
		if err := request(t, nc, subject.MembershipMembersAdd, mustJSON(contract.MemberRequest{RoomID: id, UserID: m.UserID, Role: m.Role}), &room); err != nil {
			t.Fatalf("seed %s: add %s: %v", id, m.UserID, err)
		}
	}
	return id
}

func getRoom(t testing.TB, nc *nats.Conn, id string) (*contract.Room, error) {
	t.Helper()
	var room contract.Room
	if err := request(t, nc, subject.MembershipRoomsGet, mustJSON(contract.RoomRequest{RoomID: id}), &room); err != nil {
		return nil, err
	}
	return &room, nil
}

func owner(id string) contract.Member  { return contract.Member{UserID: id, Role: contract.RoleOwner} }
func member(id string) contract.Member { return contract.Member{UserID: id, Role: contract.RoleMember} }

// badRoomIDs break the room id rules; every endpoint refuses them with 400.
var badRoomIDs = []string{"a.b", "*", ">", "a b", "room.>", "é", strings.Repeat("a", 129), strings.Repeat("x", 100_000)}

// freshRoom in a table case stands for the room seeded for that case.
const freshRoom = "FRESH"

func TestRoomsCreate(t *testing.T) {
	nc := newService(t, Config{})
	existing := seed(t, nc, "alice", contract.PolicyMembers)

	tests := []struct {
		name     string
		req      contract.CreateRoomRequest
		wantCode int
	}{
		{"members room", contract.CreateRoomRequest{RoomID: "create-members", OwnerID: "alice", Policy: contract.PolicyMembers}, 0},
		{"open room", contract.CreateRoomRequest{RoomID: "create-open", OwnerID: "bob", Policy: contract.PolicyOpen}, 0},
		{"longest room id", contract.CreateRoomRequest{RoomID: strings.Repeat("A-z_9", 25) + "abc", OwnerID: "bob", Policy: contract.PolicyOpen}, 0},
		{"existing room is a conflict", contract.CreateRoomRequest{RoomID: existing, OwnerID: "mallory", Policy: contract.PolicyOpen}, 409},
		{"missing room id", contract.CreateRoomRequest{OwnerID: "alice", Policy: contract.PolicyOpen}, 400},
		{"missing owner", contract.CreateRoomRequest{RoomID: "create-no-owner", Policy: contract.PolicyOpen}, 400},
		{"over-long owner", contract.CreateRoomRequest{RoomID: "create-long-owner", OwnerID: strings.Repeat("o", MaxUserIDLen+1), Policy: contract.PolicyOpen}, 400},
		{"missing policy", contract.CreateRoomRequest{RoomID: "create-no-policy", OwnerID: "alice"}, 400},
		{"unknown policy", contract.CreateRoomRequest{RoomID: "create-public", OwnerID: "alice", Policy: "public"}, 400},
		{"policy is case sensitive", contract.CreateRoomRequest{RoomID: "create-upper", OwnerID: "alice", Policy: "OPEN"}, 400},
	}
	for _, id := range badRoomIDs {
		tests = append(tests, struct {
			name     string
			req      contract.CreateRoomRequest
			wantCode int
		}{"bad room id " + clip(id), contract.CreateRoomRequest{RoomID: id, OwnerID: "alice", Policy: contract.PolicyOpen}, 400})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now()
			var room contract.Room
			err := request(t, nc, subject.MembershipRoomsCreate, mustJSON(tt.req), &room)
			if code(err) != tt.wantCode {
				t.Fatalf("create: error %v, want code %d", err, tt.wantCode)
			}
			if tt.wantCode != 0 {
				if tt.wantCode == 409 {
					if got, err := getRoom(t, nc, existing); err != nil || got.OwnerID != "alice" {
						t.Errorf("after a refused create the room is %+v (%v), want alice's room unchanged", got, err)
					}
				}
				return
			}
			want := contract.Room{RoomID: tt.req.RoomID, OwnerID: tt.req.OwnerID, Policy: tt.req.Policy, Members: []contract.Member{owner(tt.req.OwnerID)}}
			checkRoom(t, &room, &want)
			if room.CreatedAt.Before(before.Add(-time.Second)) || room.CreatedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("created_at = %v, want about now", room.CreatedAt)
			}
			got, err := getRoom(t, nc, tt.req.RoomID)
			if err != nil {
				t.Fatalf("get after create: %v", err)
			}
			checkRoom(t, got, &room)
			if !got.CreatedAt.Equal(room.CreatedAt) {
				t.Errorf("stored created_at = %v, replied %v", got.CreatedAt, room.CreatedAt)
			}
		})
	}
}

// checkRoom compares everything but created_at.
func checkRoom(t testing.TB, got, want *contract.Room) {
	t.Helper()
	if got.RoomID != want.RoomID || got.OwnerID != want.OwnerID || got.Policy != want.Policy || !slices.Equal(got.Members, want.Members) {
		t.Errorf("room = %+v, want %+v", *got, *want)
	}
}

func TestRoomsGet(t *testing.T) {
	nc := newService(t, Config{})
	id := seed(t, nc, "alice", contract.PolicyOpen, member("bob"))

	tests := []struct {
		name     string
		roomID   string
		want     *contract.Room
		wantCode int
	}{
		{"existing room", id, &contract.Room{RoomID: id, OwnerID: "alice", Policy: contract.PolicyOpen, Members: []contract.Member{owner("alice"), member("bob")}}, 0},
		{"missing room", "nowhere", nil, 404},
		{"missing room id", "", nil, 400},
	}
	for _, bad := range badRoomIDs {
		tests = append(tests, struct {
			name     string
			roomID   string
			want     *contract.Room
			wantCode int
		}{"bad room id " + clip(bad), bad, nil, 400})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := getRoom(t, nc, tt.roomID)
			if code(err) != tt.wantCode {
				t.Fatalf("get: error %v, want code %d", err, tt.wantCode)
			}
			if tt.want != nil {
				checkRoom(t, got, tt.want)
			}
		})
	}
}

func TestRoomsDelete(t *testing.T) {
	nc := newService(t, Config{})

	tests := []struct {
		name     string
		roomID   string
		wantCode int
	}{
		{"existing room", freshRoom, 0},
		{"missing room", "nowhere", 404},
		{"missing room id", "", 400},
	}
	for _, bad := range badRoomIDs {
		tests = append(tests, struct {
			name     string
			roomID   string
			wantCode int
		}{"bad room id " + clip(bad), bad, 400})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.roomID
			if id == freshRoom {
				id = seed(t, nc, "alice", contract.PolicyMembers, member("bob"))
			}
			var rep map[string]any
			err := request(t, nc, subject.MembershipRoomsDelete, mustJSON(contract.RoomRequest{RoomID: id}), &rep)
			if code(err) != tt.wantCode {
				t.Fatalf("delete: error %v, want code %d", err, tt.wantCode)
			}
			if tt.wantCode != 0 {
				return
			}
			if rep == nil || len(rep) != 0 {
				t.Errorf("delete replied %v, want {}", rep)
			}
			if _, err := getRoom(t, nc, id); code(err) != 404 {
				t.Errorf("get after delete: error %v, want 404", err)
			}
			if err := request(t, nc, subject.MembershipRoomsDelete, mustJSON(contract.RoomRequest{RoomID: id}), &rep); code(err) != 404 {
				t.Errorf("second delete: error %v, want 404", err)
			}
			// The id is free again.
			var room contract.Room
			if err := request(t, nc, subject.MembershipRoomsCreate, mustJSON(contract.CreateRoomRequest{RoomID: id, OwnerID: "carol", Policy: contract.PolicyOpen}), &room); err != nil {
				t.Fatalf("create again after delete: %v", err)
			}
			checkRoom(t, &room, &contract.Room{RoomID: id, OwnerID: "carol", Policy: contract.PolicyOpen, Members: []contract.Member{owner("carol")}})
		})
	}
}

func TestMembersAdd(t *testing.T) {
	nc := newService(t, Config{})

	// Every case starts from a fresh room: owner alice, member bob.
	tests := []struct {
		name        string
		req         contract.MemberRequest
		wantMembers []contract.Member
		wantCode    int
	}{
		{"new member, role defaults to member", contract.MemberRequest{RoomID: freshRoom, UserID: "carol"}, []contract.Member{owner("alice"), member("bob"), member("carol")}, 0},
		{"new member with role member", contract.MemberRequest{RoomID: freshRoom, UserID: "carol", Role: contract.RoleMember}, []contract.Member{owner("alice"), member("bob"), member("carol")}, 0},
		{"new co-owner", contract.MemberRequest{RoomID: freshRoom, UserID: "carol", Role: contract.RoleOwner}, []contract.Member{owner("alice"), member("bob"), owner("carol")}, 0},
		{"existing member is promoted", contract.MemberRequest{RoomID: freshRoom, UserID: "bob", Role: contract.RoleOwner}, []contract.Member{owner("alice"), owner("bob")}, 0},
		{"existing member added again is unchanged", contract.MemberRequest{RoomID: freshRoom, UserID: "bob"}, []contract.Member{owner("alice"), member("bob")}, 0},
		{"owner added again as owner is unchanged", contract.MemberRequest{RoomID: freshRoom, UserID: "alice", Role: contract.RoleOwner}, []contract.Member{owner("alice"), member("bob")}, 0},
		{"owner cannot be demoted", contract.MemberRequest{RoomID: freshRoom, UserID: "alice", Role: contract.RoleMember}, nil, 400},
		{"unknown role", contract.MemberRequest{RoomID: freshRoom, UserID: "carol", Role: "admin"}, nil, 400},
		{"missing user", contract.MemberRequest{RoomID: freshRoom}, nil, 400},
		{"over-long user", contract.MemberRequest{RoomID: freshRoom, UserID: strings.Repeat("u", MaxUserIDLen+1)}, nil, 400},
		{"longest user", contract.MemberRequest{RoomID: freshRoom, UserID: strings.Repeat("u", MaxUserIDLen)}, []contract.Member{owner("alice"), member("bob"), member(strings.Repeat("u", MaxUserIDLen))}, 0},
		{"missing room", contract.MemberRequest{RoomID: "nowhere", UserID: "carol"}, nil, 404},
		{"missing room id", contract.MemberRequest{UserID: "carol"}, nil, 400},
	}
	for _, bad := range badRoomIDs {
		tests = append(tests, struct {
			name        string
			req         contract.MemberRequest
			wantMembers []contract.Member
			wantCode    int
		}{"bad room id " + clip(bad), contract.MemberRequest{RoomID: bad, UserID: "carol"}, nil, 400})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testMemberChange(t, nc, subject.MembershipMembersAdd, tt.req, tt.wantMembers, tt.wantCode)
		})
	}
}

func TestMembersRemove(t *testing.T) {
	nc := newService(t, Config{})

	tests := []struct {
		name        string
		req         contract.MemberRequest
		wantMembers []contract.Member
		wantCode    int
		wantMsg     string
	}{
		{"member", contract.MemberRequest{RoomID: freshRoom, UserID: "bob"}, []contract.Member{owner("alice")}, 0, ""},
		{"non-member leaves the room unchanged", contract.MemberRequest{RoomID: freshRoom, UserID: "zoe"}, []contract.Member{owner("alice"), member("bob")}, 0, ""},
		{"owner is refused", contract.MemberRequest{RoomID: freshRoom, UserID: "alice"}, nil, 400, "owns room"},
		{"missing user", contract.MemberRequest{RoomID: freshRoom}, nil, 400, "user_id"},
		{"missing room", contract.MemberRequest{RoomID: "nowhere", UserID: "bob"}, nil, 404, "no such room"},
		{"missing room id", contract.MemberRequest{UserID: "bob"}, nil, 400, "room_id"},
	}
	for _, bad := range badRoomIDs {
		tests = append(tests, struct {
			name        string
			req         contract.MemberRequest
			wantMembers []contract.Member
			wantCode    int
			wantMsg     string
		}{"bad room id " + clip(bad), contract.MemberRequest{RoomID: bad, UserID: "bob"}, nil, 400, "room_id"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := testMemberChange(t, nc, subject.MembershipMembersRemove, tt.req, tt.wantMembers, tt.wantCode)
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

// testMemberChange seeds a room (owner alice, member bob) for freshRoom, sends
// req to subj, and checks the reply and, on success, the stored room. It
// returns the request's error.
func testMemberChange(t *testing.T, nc *nats.Conn, subj string, req contract.MemberRequest, wantMembers []contract.Member, wantCode int) error {
	t.Helper()
	var before *contract.Room
	if req.RoomID == freshRoom {
		req.RoomID = seed(t, nc, "alice", contract.PolicyMembers, member("bob"))
		var err error
		if before, err = getRoom(t, nc, req.RoomID); err != nil {
			t.Fatal(err)
		}
	}
	var room contract.Room
	err := request(t, nc, subj, mustJSON(req), &room)
	if code(err) != wantCode {
		t.Fatalf("%s: error %v, want code %d", subj, err, wantCode)
	}
	if before != nil {
		want := *before
		if wantCode == 0 {
			want.Members = wantMembers
			checkRoom(t, &room, &want)
			if !room.CreatedAt.Equal(before.CreatedAt) {
				t.Errorf("created_at changed from %v to %v", before.CreatedAt, room.CreatedAt)
			}
		}
		stored, gerr := getRoom(t, nc, req.RoomID)
		if gerr != nil {
			t.Fatalf("get after %s: %v", subj, gerr)
		}
		checkRoom(t, stored, &want)
	}
	return err
}

func TestAuthorize(t *testing.T) {
	for _, openRooms := range []bool{false, true} {
		t.Run(fmt.Sprintf("open rooms %t", openRooms), func(t *testing.T) {
			nc := newService(t, Config{OpenRooms: openRooms})
			membersRoom := seed(t, nc, "alice", contract.PolicyMembers, member("bob"), owner("bea"))
			openRoom := seed(t, nc, "carol", contract.PolicyOpen, member("dave"))

			missingRoom := contract.AuthorizeReply{Allowed: false, Reason: "no such room"}
			if openRooms {
				missingRoom = contract.AuthorizeReply{Allowed: true}
			}
			tests := []struct {
				name     string
				req      contract.AuthorizeRequest
				want     contract.AuthorizeReply
				wantCode int
			}{
				{"owner of members room", contract.AuthorizeRequest{RoomID: membersRoom, UserID: "alice"}, contract.AuthorizeReply{Allowed: true, Role: "owner"}, 0},
				{"co-owner of members room", contract.AuthorizeRequest{RoomID: membersRoom, UserID: "bea"}, contract.AuthorizeReply{Allowed: true, Role: "owner"}, 0},
				{"member of members room", contract.AuthorizeRequest{RoomID: membersRoom, UserID: "bob"}, contract.AuthorizeReply{Allowed: true, Role: "member"}, 0},
				{"stranger to members room", contract.AuthorizeRequest{RoomID: membersRoom, UserID: "mallory"}, contract.AuthorizeReply{Allowed: false, Reason: "not a member"}, 0},
				{"owner of open room", contract.AuthorizeRequest{RoomID: openRoom, UserID: "carol"}, contract.AuthorizeReply{Allowed: true, Role: "owner"}, 0},
				{"member of open room", contract.AuthorizeRequest{RoomID: openRoom, UserID: "dave"}, contract.AuthorizeReply{Allowed: true, Role: "member"}, 0},
				{"stranger to open room", contract.AuthorizeRequest{RoomID: openRoom, UserID: "mallory"}, contract.AuthorizeReply{Allowed: true}, 0},
				{"missing room", contract.AuthorizeRequest{RoomID: "nowhere", UserID: "alice"}, missingRoom, 0},
				{"missing user", contract.AuthorizeRequest{RoomID: membersRoom}, contract.AuthorizeReply{}, 400},
				{"missing user of missing room", contract.AuthorizeRequest{RoomID: "nowhere"}, contract.AuthorizeReply{}, 400},
				{"over-long user", contract.AuthorizeRequest{RoomID: openRoom, UserID: strings.Repeat("u", MaxUserIDLen+1)}, contract.AuthorizeReply{}, 400},
				{"missing room id", contract.AuthorizeRequest{UserID: "alice"}, contract.AuthorizeReply{}, 400},
			}
			for _, bad := range badRoomIDs {
				tests = append(tests, struct {
					name     string
					req      contract.AuthorizeRequest
					want     contract.AuthorizeReply
					wantCode int
				}{"bad room id " + clip(bad), contract.AuthorizeRequest{RoomID: bad, UserID: "alice"}, contract.AuthorizeReply{}, 400})
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var got contract.AuthorizeReply
					err := request(t, nc, subject.MembershipAuthorize, mustJSON(tt.req), &got)
					if code(err) != tt.wantCode {
						t.Fatalf("authorize: error %v, want code %d", err, tt.wantCode)
					}
					if got != tt.want {
						t.Errorf("authorize = %+v, want %+v", got, tt.want)
					}
				})
			}
		})
	}
}

func TestAuthorizeFollowsMembership(t *testing.T) {
	nc := newService(t, Config{})
	id := seed(t, nc, "alice", contract.PolicyMembers)
	authorize := func() contract.AuthorizeReply {
		t.Helper()
		var rep contract.AuthorizeReply
		if err := request(t, nc, subject.MembershipAuthorize, mustJSON(contract.AuthorizeRequest{RoomID: id, UserID: "bob"}), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if got := authorize(); got.Allowed {
		t.Fatalf("bob before being added: %+v, want refused", got)
	}
	if err := request(t, nc, subject.MembershipMembersAdd, mustJSON(contract.MemberRequest{RoomID: id, UserID: "bob"}), &contract.Room{}); err != nil {
		t.Fatal(err)
	}
	if got := authorize(); !got.Allowed || got.Role != contract.RoleMember {
		t.Fatalf("bob after being added: %+v, want allowed as member", got)
	}
	if err := request(t, nc, subject.MembershipMembersRemove, mustJSON(contract.MemberRequest{RoomID: id, UserID: "bob"}), &contract.Room{}); err != nil {
		t.Fatal(err)
	}
	if got := authorize(); got.Allowed || got.Reason != "not a member" {
		t.Fatalf("bob after being removed: %+v, want refused as not a member", got)
	}
	if err := request(t, nc, subject.MembershipRoomsDelete, mustJSON(contract.RoomRequest{RoomID: id}), &struct{}{}); err != nil {
		t.Fatal(err)
	}
	if got := authorize(); got.Allowed || got.Reason != "no such room" {
		t.Fatalf("bob after the room is deleted: %+v, want refused, no such room", got)
	}
}

// endpointSubjects lists every membership endpoint.
var endpointSubjects = []string{
	subject.MembershipAuthorize,
	subject.MembershipRoomsCreate,
	subject.MembershipRoomsGet,
	subject.MembershipRoomsDelete,
	subject.MembershipMembersAdd,
	subject.MembershipMembersRemove,
}

// badPayloads are refused with 400 by every endpoint.
var badPayloads = map[string]string{
	"empty":                ``,
	"not JSON":             `nope`,
	"truncated JSON":       `{"room_id":"r`,
	"JSON array":           `[{"room_id":"r"}]`,
	"JSON string":          `"r"`,
	"JSON number":          `42`,
	"JSON null":            `null`,
	"empty object":         `{}`,
	"room id wrong type":   `{"room_id":42,"user_id":"u","owner_id":"u","policy":"open"}`,
	"huge bad room id":     `{"room_id":"` + strings.Repeat("é", 200_000) + `","user_id":"u","owner_id":"u","policy":"open"}`,
	"room id with subject": `{"room_id":"r.>","user_id":"u","owner_id":"u","policy":"open"}`,
	"binary":               "\x00\xff\xfe{",
}

func TestBadPayloads(t *testing.T) {
	nc := newService(t, Config{OpenRooms: true})
	for _, subj := range endpointSubjects {
		for name, payload := range badPayloads {
			t.Run(subj+"/"+name, func(t *testing.T) {
				var rep json.RawMessage
				err := request(t, nc, subj, payload, &rep)
				if code(err) != 400 {
					t.Fatalf("error %v (reply %s), want 400", err, rep)
				}
			})
		}
	}
	// Fields other than room_id, of the wrong type.
	wrongTypes := map[string][]string{
		subject.MembershipAuthorize:     {`{"room_id":"r","user_id":{"a":1}}`, `{"room_id":"r","user_id":7}`},
		subject.MembershipRoomsCreate:   {`{"room_id":"r","owner_id":["u"],"policy":"open"}`, `{"room_id":"r","owner_id":"u","policy":true}`},
		subject.MembershipMembersAdd:    {`{"room_id":"r","user_id":null,"role":1}`, `{"room_id":"r","user_id":"u","role":["owner"]}`},
		subject.MembershipMembersRemove: {`{"room_id":"r","user_id":1.5}`},
	}
	for subj, payloads := range wrongTypes {
		for i, payload := range payloads {
			t.Run(fmt.Sprintf("%s/wrong type %d", subj, i), func(t *testing.T) {
				var rep json.RawMessage
				if err := request(t, nc, subj, payload, &rep); code(err) != 400 {
					t.Fatalf("%s: error %v (reply %s), want 400", payload, err, rep)
				}
			})
		}
	}
	// The service is still there.
	if _, err := getRoom(t, nc, "nowhere"); code(err) != 404 {
		t.Fatalf("after bad payloads, get: %v, want 404", err)
	}
}

func TestRoomTooLarge(t *testing.T) {
	// A server whose messages are small, so that a room outgrows them soon.
	s := smallServer(t, 4096)
	startService(t, natstest.Connect(t, s), Config{})
	nc := natstest.Connect(t, s)

	id := seed(t, nc, "alice", contract.PolicyMembers)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		user := fmt.Sprintf("%03d%s", i, strings.Repeat("u", MaxUserIDLen-3))
		err = request(t, nc, subject.MembershipMembersAdd, mustJSON(contract.MemberRequest{RoomID: id, UserID: user}), &contract.Room{})
	}
	if code(err) != 400 || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("adding members until the room is too large: %v, want 400 too large", err)
	}
	if _, err := getRoom(t, nc, id); err != nil {
		t.Fatalf("the room is still readable: %v", err)
	}
}

// smallServer is natstest.Server with a small maximum message size.
func smallServer(t testing.TB, maxPayload int32) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		MaxPayload: maxPayload, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return s
}
