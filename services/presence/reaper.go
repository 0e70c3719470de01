package presence

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// reapTimeout bounds one reaper pass.
const reapTimeout = 10 * time.Second

// runReaper reaps every ReapInterval until ctx is done. Only this goroutine
// touches the reaper's state (lastSweep).
func (s *Service) runReaper(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReapInterval)
	defer t.Stop()
	var lastSweep time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pass, cancel := context.WithTimeout(ctx, reapTimeout)
		swept, err := s.reap(pass, lastSweep)
		cancel()
		s.reapPasses.Add(1)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("reap failed", slog.Any("err", err))
		}
		if !swept.IsZero() {
			lastSweep = swept
		}
	}
}

// leaseState is what the reaper needs to know of a lease key.
type leaseState struct {
	revision uint64
	created  time.Time
}

// reap does one pass. First it deletes every lease it sees expired, each
// guarded by the revision it saw (a heartbeat that came first wins). Then,
// when it deleted or saw expired leases, or when the last full sweep
// (lastSweep) is older than LeaseTTL, it goes through the rooms and removes
// the entries whose lease is gone. It returns when it swept the rooms (zero
// if it did not).
func (s *Service) reap(ctx context.Context, lastSweep time.Time) (time.Time, error) {
	leases := map[string]leaseState{}
	err := s.scan(ctx, leasePrefix+">", true, func(e jetstream.KeyValueEntry) {
		leases[strings.TrimPrefix(e.Key(), leasePrefix)] = leaseState{revision: e.Revision(), created: e.Created()}
	})
	if err != nil {
		return time.Time{}, err
	}
	now := time.Now()
	alive := map[string]bool{}
	dead := map[string]bool{} // deleted by this pass
	var errs []error
	expired := 0
	for lease, st := range leases {
		if now.Sub(st.created) <= s.cfg.LeaseTTL {
			alive[lease] = true
			continue
		}
		expired++
		err := s.kv.Purge(ctx, leaseKey(lease), jetstream.LastRevision(st.revision), jetstream.PurgeTTL(markerTTL))
		switch {
		case err == nil:
			dead[lease] = true
			s.log.Info("lease expired", slog.String("lease", lease), slog.Duration("age", now.Sub(st.created)))
		case isConflict(err):
			// Renewed, or deleted by another instance, since we looked.
		default:
			errs = append(errs, err)
		}
	}
	if expired == 0 && now.Sub(lastSweep) < s.cfg.LeaseTTL {
		return time.Time{}, errors.Join(errs...)
	}

	rooms := map[string][]entry{}
	empty := map[string]uint64{} // key -> revision, emptied more than EmptyRoomTTL ago
	err = s.scan(ctx, roomPrefix+">", false, func(e jetstream.KeyValueEntry) {
		entries, err := decodeRoom(e.Value())
		if err != nil {
			errs = append(errs, err)
			return
		}
		if len(entries) == 0 && now.Sub(e.Created()) > s.cfg.EmptyRoomTTL {
			empty[e.Key()] = e.Revision()
		}
		rooms[strings.TrimPrefix(e.Key(), roomPrefix)] = entries
	})
	if err != nil {
		return time.Time{}, errors.Join(append(errs, err)...)
	}
	for key, rev := range empty {
		// A room left empty for a while: drop its key. A join that came
		// first wins (the purge is guarded by the revision).
		if err := s.kv.Purge(ctx, key, jetstream.LastRevision(rev), jetstream.PurgeTTL(markerTTL)); err != nil && !isConflict(err) {
			errs = append(errs, err)
		}
	}
	for roomID, entries := range rooms {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		for _, e := range entries {
			if !alive[e.Lease] {
				errs = append(errs, s.reapRoom(ctx, roomID, alive, dead))
				break
			}
		}
	}
	return now, errors.Join(errs...)
}

// reapRoom removes, under compare-and-set, the room's entries whose lease
// is gone: deleted by this pass (dead), or missing while the entry is older
// than LeaseTTL. Whether a lease is gone is read after the room, so a join
// that put its lease and then wrote the room is never reaped. It publishes
// a left event (gateway_lost) for each entry its write removed.
func (s *Service) reapRoom(ctx context.Context, roomID string, alive, dead map[string]bool) error {
	var removed []entry
	_, rev, wrote, err := s.changeRoom(ctx, roomID, func(cur []entry) ([]entry, bool, error) {
		removed = nil
		gone := map[string]bool{}
		keep := make([]entry, 0, len(cur))
		for _, e := range cur {
			if alive[e.Lease] {
				keep = append(keep, e)
				continue
			}
			g, ok := gone[e.Lease]
			if !ok {
				var err error
				if g, err = s.leaseGone(ctx, e.Lease); err != nil {
					return nil, false, err
				}
				gone[e.Lease] = g
			}
			if g && (dead[e.Lease] || time.Since(e.JoinedAt) > s.cfg.LeaseTTL) {
				removed = append(removed, e)
			} else {
				keep = append(keep, e)
			}
		}
		return keep, len(removed) > 0, nil
	})
	if err != nil || !wrote {
		return err
	}
	ctx, span := s.tracer.Start(ctx, "presence.reap")
	span.SetAttributes(attribute.String("room_id", roomID), attribute.Int("removed", len(removed)))
	defer span.End()
	var errs []error
	for _, e := range removed {
		s.log.Info("reaped", slog.String("room_id", roomID), slog.String("connection_id", e.ConnectionID),
			slog.String("lease", e.Lease), slog.String("gateway_id", e.GatewayID))
		ev := contract.PresenceEvent{Event: contract.EventLeft, Participant: e.Participant, Reason: contract.ReasonGatewayLost, Revision: rev}
		errs = append(errs, s.publish(ctx, roomID, ev))
	}
	return errors.Join(errs...)
}
