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

// suspect is an entry whose lease was not seen alive.
type suspect struct {
	e       entry
	rev     uint64
	created time.Time
}

// reap does one pass. First it deletes every lease it sees expired, each
// guarded by the revision it saw (a heartbeat that came first wins). Then,
// when it deleted or saw expired leases, or when the last full sweep
// (lastSweep) is older than LeaseTTL, it goes through every room entry and
// removes those whose lease is gone, and migrates keys of the older layout.
// It returns when it swept the rooms (zero if it did not).
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
			s.gatewaysLost.Inc()
			s.leases.forget(lease)
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

	suspects := map[string][]suspect{} // room id -> entries
	var legacy, damaged []jetstream.KeyValueEntry
	err = s.scan(ctx, roomPrefix+">", false, func(kve jetstream.KeyValueEntry) {
		roomID, connID, ok := splitRoomKey(kve.Key())
		switch {
		case !ok:
			return
		case connID == "":
			legacy = append(legacy, kve)
			return
		}
		e, err := decodeEntry(connID, kve.Value())
		switch {
		case err != nil:
			if now.Sub(kve.Created()) > s.cfg.LeaseTTL {
				damaged = append(damaged, kve)
			}
		case !alive[e.Lease]:
			e.Revision = kve.Revision()
			suspects[roomID] = append(suspects[roomID], suspect{e: e, rev: kve.Revision(), created: kve.Created()})
		}
	})
	if err != nil {
		return time.Time{}, errors.Join(append(errs, err)...)
	}
	for _, kve := range legacy {
		errs = append(errs, s.migrate(ctx, kve))
	}
	for _, kve := range damaged {
		// Nobody can list or remove what does not decode: drop it.
		s.log.Warn("dropping a room entry that does not decode", slog.String("key", kve.Key()))
		if _, err := s.purge(ctx, kve.Key(), kve.Revision(), nil); err != nil && !isConflict(err) {
			errs = append(errs, err)
		}
	}
	// Whether a lease is gone is read after its entries were, so an entry
	// created after its join put the lease is never reaped for a lease
	// that was gone before.
	gone := map[string]bool{}
	for roomID, entries := range suspects {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		errs = append(errs, s.reapRoom(ctx, roomID, entries, dead, gone))
	}
	return now, errors.Join(errs...)
}

// reapRoom removes the room's entries whose lease is gone: deleted by this
// pass (dead), or missing while the entry is older than LeaseTTL (an
// instance stopped between deleting a lease and removing its entries).
// Each removal is guarded by the entry's revision, so an entry that left,
// or that another instance reaped, meanwhile is not removed again. It
// publishes a left event (gateway_lost) for each entry it removed.
func (s *Service) reapRoom(ctx context.Context, roomID string, entries []suspect, dead, gone map[string]bool) error {
	type removal struct {
		e   entry
		rev uint64
	}
	var removed []removal
	var errs []error
	for _, sp := range entries {
		lease := sp.e.Lease
		g, ok := gone[lease]
		if !ok {
			var err error
			if g, err = s.leaseGone(ctx, lease); err != nil {
				errs = append(errs, err)
				continue
			}
			gone[lease] = g
		}
		if !g || !(dead[lease] || time.Since(sp.created) > s.cfg.LeaseTTL) {
			continue
		}
		rev, err := s.removeEntry(ctx, roomID, sp.e, sp.rev)
		if isConflict(err) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, removal{sp.e, rev})
	}
	if len(removed) == 0 {
		return errors.Join(errs...)
	}
	ctx, span := s.tracer.Start(ctx, "presence.reap")
	span.SetAttributes(attribute.String("room_id", roomID), attribute.Int("removed", len(removed)))
	defer span.End()
	for _, r := range removed {
		s.log.Info("reaped", slog.String("room_id", roomID), slog.String("connection_id", r.e.ConnectionID),
			slog.String("lease", r.e.Lease), slog.String("gateway_id", r.e.GatewayID))
		ev := contract.PresenceEvent{Event: contract.EventLeft, Participant: r.e.Participant, Reason: contract.ReasonGatewayLost, Revision: r.rev}
		errs = append(errs, s.publish(ctx, roomID, ev))
	}
	return errors.Join(errs...)
}
