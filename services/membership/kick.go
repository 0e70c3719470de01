package membership

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// kicker takes users whose right to be in a room was revoked out of the
// calls they are in: it asks presence to remove their connections with
// reason "kicked"; the room hears left, and each connection's gateway
// closes its socket with 1008.
type kicker struct {
	nc  *nats.Conn
	log *slog.Logger
}

// out removes the connections in roomID whose user matches. The revocation
// itself has already happened, so a presence failure is logged rather than
// returned: those connections then stay until they close.
func (k kicker) out(ctx context.Context, roomID string, match func(contract.User) bool) {
	var list contract.PresenceList
	if err := rpc.Call(ctx, k.nc, subject.PresenceList, contract.RoomRequest{RoomID: roomID}, &list); err != nil {
		k.log.Warn("cannot list the room to kick revoked users", slog.String("room_id", roomID), slog.Any("err", err))
		return
	}
	for _, p := range list.Participants {
		if !match(p.User) {
			continue
		}
		req := contract.LeaveRequest{RoomID: roomID, ConnectionID: p.ConnectionID, Reason: contract.ReasonKicked}
		if err := rpc.Call(ctx, k.nc, subject.PresenceLeave, req, nil); err != nil {
			k.log.Warn("kick failed", slog.String("room_id", roomID), slog.String("connection_id", p.ConnectionID), slog.Any("err", err))
		}
	}
}
