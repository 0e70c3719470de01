package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// resyncLoop repairs the views of every room now and then, and at once
// after NATS reconnects. Presence events travel as core NATS messages, at
// most once: one lost while disconnected, or dropped for a slow
// subscription, would otherwise leave clients with a wrong picture of their
// room until they reconnect.
func (g *Gateway) resyncLoop(ctx context.Context) {
	defer g.background.Done()
	t := time.NewTicker(min(time.Second, g.cfg.ResyncInterval))
	defer t.Stop()
	reconnects, last := g.nc.Stats().Reconnects, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := g.nc.Stats().Reconnects
		if n == reconnects && time.Since(last) < g.cfg.ResyncInterval {
			continue
		}
		reconnects, last = n, time.Now()
		for _, r := range g.hub.snapshot() {
			rctx, cancel := context.WithTimeout(ctx, g.cfg.JoinTimeout)
			err := r.resync(rctx, g)
			cancel()
			if err != nil && ctx.Err() == nil {
				g.log.Warn("room resync failed", slog.String("room_id", r.id), slog.Any("err", err))
			}
		}
	}
}

// snapshot lists the rooms the gateway holds now.
func (h *hub) snapshot() []*room {
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rs = append(rs, r)
	}
	return rs
}

// resync compares the room's view with presence's list of the room at
// revision R. A participant listed but unknown is learned (joined); a known
// one missing from the list that joined at or before R must have left by R,
// and is forgotten (left), told to the connections that joined before R.
// One that joined after R is newer than the list and stays. A local
// connection that joined at or before R and that presence no longer lists
// is closed so that it registers again.
func (r *room) resync(ctx context.Context, g *Gateway) error {
	var list contract.PresenceList
	if err := rpc.Call(ctx, g.nc, subject.PresenceList, contract.RoomRequest{RoomID: r.id}, &list); err != nil {
		return err
	}
	listed := make(map[string]contract.Participant, len(list.Participants))
	for _, p := range list.Participants {
		listed[p.ConnectionID] = p
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.members.Load().list {
		if _, ok := listed[c.id()]; !ok && c.welcomed && c.joinRev <= list.Revision {
			c.kill(websocket.StatusGoingAway, reasonPresenceLost)
		}
	}
	for id, p := range r.known {
		if _, ok := listed[id]; !ok && p.Revision <= list.Revision {
			r.gone[id] = now
			r.forget(id, contract.ReasonClosed, list.Revision)
		}
	}
	for id, p := range listed {
		if _, left := r.gone[id]; !left {
			r.learn(p, nil)
		}
	}
	return nil
}
