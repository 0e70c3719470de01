package presence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
)

// Before each connection had its own key, a room was one key,
// rooms.<room_id>, holding {"participants":[...]}. A data directory from
// then may still hold such keys. They are migrated: each participant gets
// its own key, with no event (everyone was told of them already), and the
// old key is purged. Start migrates what it finds before it serves, and the
// reaper migrates any it comes across later (written by an instance of the
// older version still running).

// legacyRoom is the value of a rooms.<room_id> key of the older layout.
type legacyRoom struct {
	Participants []entry `json:"participants"`
}

// decodeLegacyRoom parses the value of a rooms.<room_id> key of the older
// layout.
func decodeLegacyRoom(data []byte) ([]entry, error) {
	var v legacyRoom
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	// An entry without a connection id cannot be told apart or removed:
	// no writer stored one, so it is damage, and it is dropped.
	return slices.DeleteFunc(v.Participants, func(e entry) bool { return e.ConnectionID == "" }), nil
}

// migrateAll migrates every key of the older layout.
func (s *Service) migrateAll(ctx context.Context) error {
	var legacy []jetstream.KeyValueEntry
	if err := s.scan(ctx, roomPrefix+"*", false, func(e jetstream.KeyValueEntry) {
		legacy = append(legacy, e)
	}); err != nil {
		return err
	}
	var errs []error
	for _, e := range legacy {
		errs = append(errs, s.migrate(ctx, e))
	}
	return errors.Join(errs...)
}

// migrate moves the participants of one rooms.<room_id> key of the older
// layout to keys of their own and purges it. A participant whose key
// exists already, or was removed recently, is not written again, so a
// migration repeated by several instances, or racing with a leave, changes
// nothing twice. Participants whose connection id cannot be a key are
// dropped with a left event.
func (s *Service) migrate(ctx context.Context, e jetstream.KeyValueEntry) error {
	roomID, connID, ok := splitRoomKey(e.Key())
	if !ok || connID != "" || !roomid.Valid(roomID) {
		return nil
	}
	entries, err := decodeLegacyRoom(e.Value())
	if err != nil {
		s.log.Warn("dropping a room key that does not decode", slog.String("key", e.Key()), slog.Any("err", err))
		entries = nil
	}
	var dropped []entry
	for _, old := range entries {
		if !roomid.Valid(old.ConnectionID) {
			dropped = append(dropped, old)
			continue
		}
		old.Joined = 0
		data, err := json.Marshal(old)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", e.Key(), err)
		}
		// Revision 0: only if the key has no message at all.
		if _, err := s.kv.Update(ctx, roomKey(roomID, old.ConnectionID), data, 0); err != nil && !isConflict(err) {
			return fmt.Errorf("migrate %s: %w", e.Key(), err)
		}
	}
	rev, err := s.purge(ctx, e.Key(), e.Revision(), nil)
	if isConflict(err) {
		return nil // changed or migrated since: a later pass looks again
	}
	if err != nil {
		return fmt.Errorf("migrate %s: %w", e.Key(), err)
	}
	s.log.Info("migrated room key", slog.String("room_id", roomID), slog.Int("participants", len(entries)-len(dropped)))
	var errs []error
	for _, d := range dropped {
		ev := contract.PresenceEvent{Event: contract.EventLeft, Participant: d.Participant, Reason: contract.ReasonClosed, Revision: rev}
		errs = append(errs, s.publish(ctx, roomID, ev))
	}
	return errors.Join(errs...)
}
