package contract

import "time"

// Room policies.
const (
	PolicyOpen    = "open"
	PolicyMembers = "members"
)

// Member roles.
const (
	RoleOwner  = "owner"
	RoleMember = "member"
)

// AuthorizeRequest asks membership.authorize whether a user may enter a room.
type AuthorizeRequest struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
}

// AuthorizeReply answers an AuthorizeRequest.
type AuthorizeReply struct {
	Allowed bool   `json:"allowed"`
	Role    string `json:"role,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Member is a user's place in a room.
type Member struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

// Room is a room as the membership service stores and returns it.
type Room struct {
	RoomID    string    `json:"room_id"`
	OwnerID   string    `json:"owner_id"`
	Policy    string    `json:"policy"`
	Members   []Member  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateRoomRequest is the request of membership.rooms.create.
type CreateRoomRequest struct {
	RoomID  string `json:"room_id"`
	OwnerID string `json:"owner_id"`
	Policy  string `json:"policy"`
}

// RoomRequest names a room: membership.rooms.get, membership.rooms.delete and
// presence.list.
type RoomRequest struct {
	RoomID string `json:"room_id"`
}

// MemberRequest is the request of membership.members.add and
// membership.members.remove (Role only for add).
type MemberRequest struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Role   string `json:"role,omitempty"`
}
