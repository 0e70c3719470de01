package contract

// PresenceList is the reply of presence.list: the room as of Revision.
// Every change with a revision up to Revision is reflected in it; every
// later change has a higher revision.
type PresenceList struct {
	RoomID       string        `json:"room_id"`
	Participants []Participant `json:"participants"`
	Revision     uint64        `json:"revision"`
}

// JoinRequest is how a gateway registers a connection: presence.join.
//
// Lease names the gateway process; it is kept alive by heartbeats, and when
// it runs out every connection registered under it is removed with reason
// gateway_lost.
type JoinRequest struct {
	RoomID      string      `json:"room_id"`
	Participant Participant `json:"participant"`
	Lease       string      `json:"lease"`
}

// JoinReply lists every other participant in the room at the moment the
// join was stored, at Revision (the join's own). Presence publishes the
// matching joined event after it.
type JoinReply struct {
	Participants []Participant `json:"participants"`
	Revision     uint64        `json:"revision"`
}

// LeaveRequest removes a connection: presence.leave. Removing a connection
// that is already gone is not an error (the reply says removed=false).
type LeaveRequest struct {
	RoomID       string `json:"room_id"`
	ConnectionID string `json:"connection_id"`
	Reason       string `json:"reason"`
}

// LeaveReply answers a LeaveRequest.
type LeaveReply struct {
	Removed bool `json:"removed"`
}

// HeartbeatRequest renews a gateway's lease: presence.heartbeat.
type HeartbeatRequest struct {
	GatewayID string `json:"gateway_id"`
	Lease     string `json:"lease"`
}

// HeartbeatReply says whether the lease was alive before this heartbeat. A
// gateway that has registered connections and hears renewed=false has been
// declared lost: its connections are no longer in presence.
type HeartbeatReply struct {
	Renewed bool `json:"renewed"`
}
