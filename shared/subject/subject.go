// Package subject builds every NATS subject Switchboard uses, in one place.
//
// Builders that take a room id expect a valid one (see package roomid); they
// return an error otherwise, so no subject is ever built from an unchecked
// token.
package subject

import (
	"fmt"

	"github.com/switchboard-rtc/switchboard/shared/roomid"
)

// Service names, as seen by $SRV.PING, $SRV.INFO and $SRV.STATS.
const (
	MembershipService = "membership"
	PresenceService   = "presence"
)

// Membership endpoints (nats.go micro, queue group "q").
const (
	MembershipAuthorize     = "membership.authorize"
	MembershipRoomsCreate   = "membership.rooms.create"
	MembershipRoomsGet      = "membership.rooms.get"
	MembershipRoomsDelete   = "membership.rooms.delete"
	MembershipMembersAdd    = "membership.members.add"
	MembershipMembersRemove = "membership.members.remove"
)

// Presence endpoints. List is public; Join, Leave and Heartbeat are how
// gateways report to the presence service.
const (
	PresenceList      = "presence.list"
	PresenceJoin      = "presence.join"
	PresenceLeave     = "presence.leave"
	PresenceHeartbeat = "presence.heartbeat"
)

// ServicePing is the micro discovery subject that answers while at least one
// instance of the named service runs: $SRV.PING.<service>.
func ServicePing(service string) string { return "$SRV.PING." + service }

// RoomSignal returns room.<room_id>.signal, where gateways publish relayed
// signals.
func RoomSignal(roomID string) (string, error) { return room(roomID, "signal") }

// RoomPresence returns room.<room_id>.presence, where the presence service
// publishes joined and left events.
func RoomPresence(roomID string) (string, error) { return room(roomID, "presence") }

func room(roomID, kind string) (string, error) {
	if err := roomid.Check(roomID); err != nil {
		return "", fmt.Errorf("room %s subject: %w", kind, err)
	}
	return "room." + roomID + "." + kind, nil
}
