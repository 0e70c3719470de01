package presence

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
)

const (
	// bucketName is the JetStream KV bucket presence keeps its state in.
	bucketName = "presence"
	// markerTTL is how long the marker of a deleted key stays in the
	// bucket; the server then removes it.
	markerTTL = time.Minute

	roomPrefix  = "rooms."
	leasePrefix = "leases."

	// maxAttempts bounds the compare-and-set retries of one change; with
	// n concurrent writers to one room a change needs at most n attempts.
	maxAttempts = 200
)

// errBusy is returned (wrapped with the key) when a change lost the
// compare-and-set race maxAttempts times in a row.
var errBusy = errors.New("too many concurrent changes")

// entry is one participant as stored in a room key: the participant and the
// lease it was registered under.
type entry struct {
	contract.Participant
	Lease string `json:"lease"`
}

// roomValue is the JSON value of a rooms.<room_id> key.
type roomValue struct {
	Participants []entry `json:"participants"`
}

// leaseValue is the JSON value of a leases.<lease> key.
type leaseValue struct {
	GatewayID string `json:"gateway_id"`
}

func roomKey(roomID string) string { return roomPrefix + roomID }
func leaseKey(lease string) string { return leasePrefix + lease }

// decodeRoom parses a room key's value.
func decodeRoom(data []byte) ([]entry, error) {
	var v roomValue
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	// An entry without a connection id cannot be told apart or removed:
	// no writer of ours stores one, so it is damage, and it is dropped.
	return slices.DeleteFunc(v.Participants, func(e entry) bool { return e.ConnectionID == "" }), nil
}

// indexOf returns the index of the entry for connID, or -1.
func indexOf(entries []entry, connID string) int {
	return slices.IndexFunc(entries, func(e entry) bool { return e.ConnectionID == connID })
}

// participants returns the entries without their leases, leaving out
// except, sorted by joined_at then connection_id; never nil.
func participants(entries []entry, except string) []contract.Participant {
	ps := make([]contract.Participant, 0, len(entries))
	for _, e := range entries {
		if e.ConnectionID != except {
			ps = append(ps, e.Participant)
		}
	}
	slices.SortFunc(ps, func(a, b contract.Participant) int {
		if c := a.JoinedAt.Compare(b.JoinedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ConnectionID, b.ConnectionID)
	})
	return ps
}

// readRoom returns the room's entries and the revision they were read at;
// revision 0 when the room key does not exist.
func (s *Service) readRoom(ctx context.Context, roomID string) ([]entry, uint64, error) {
	e, err := s.kv.Get(ctx, roomKey(roomID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get %s: %w", roomKey(roomID), err)
	}
	entries, err := decodeRoom(e.Value())
	if err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", roomKey(roomID), err)
	}
	return entries, e.Revision(), nil
}

// writeRoom stores entries as the room's value if the key is still at rev
// (0: absent) and returns the new revision. An emptied room is written as an
// empty list, so that its last left has a revision too; the reaper removes
// empty keys later. A lost race returns an error for which isConflict is
// true.
func (s *Service) writeRoom(ctx context.Context, roomID string, entries []entry, rev uint64) (uint64, error) {
	key := roomKey(roomID)
	if len(entries) == 0 && rev == 0 {
		return 0, nil
	}
	data, err := json.Marshal(roomValue{Participants: entries})
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	var next uint64
	if rev == 0 {
		next, err = s.kv.Create(ctx, key, data)
	} else {
		next, err = s.kv.Update(ctx, key, data, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", key, err)
	}
	return next, nil
}

// changeFunc computes a room's new entries from its current ones (which it
// may modify) and says whether to write them. It is called again, with
// fresh entries, after every lost race, so it must not keep state from an
// earlier call.
type changeFunc func(cur []entry) (next []entry, write bool, err error)

// changeRoom applies change to the room under compare-and-set, retrying
// lost races with a little jitter. It returns the entries as stored after
// the change (as read, when change wrote nothing), the revision they are at,
// and whether it wrote.
func (s *Service) changeRoom(ctx context.Context, roomID string, change changeFunc) ([]entry, uint64, bool, error) {
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := jitter(ctx, attempt); err != nil {
				return nil, 0, false, fmt.Errorf("%s: %w", roomKey(roomID), err)
			}
		}
		cur, rev, err := s.readRoom(ctx, roomID)
		if err != nil {
			return nil, 0, false, err
		}
		next, write, err := change(cur)
		if err != nil {
			return nil, 0, false, err
		}
		if !write {
			return cur, rev, false, nil
		}
		newRev, err := s.writeRoom(ctx, roomID, next, rev)
		if isConflict(err) {
			continue
		}
		if err != nil {
			return nil, 0, false, err
		}
		return next, newRev, true, nil
	}
	return nil, 0, false, fmt.Errorf("%s: %w", roomKey(roomID), errBusy)
}

// listRoom returns the room's entries and a revision that every change
// they reflect is at or below, and every later change above. For a room
// with no key that is the bucket's last sequence, read before the key.
func (s *Service) listRoom(ctx context.Context, roomID string) ([]entry, uint64, error) {
	entries, rev, err := s.readRoom(ctx, roomID)
	if err != nil || rev != 0 {
		return entries, rev, err
	}
	st, err := s.kv.Status(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("bucket status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return nil, 0, fmt.Errorf("bucket status: unexpected type %T", st)
	}
	last := bs.StreamInfo().State.LastSeq
	if entries, rev, err = s.readRoom(ctx, roomID); err != nil || rev != 0 {
		return entries, rev, err
	}
	return nil, last, nil
}

// jitter waits a random time that grows a little with attempt, so that
// writers that keep colliding spread out.
func jitter(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isConflict reports whether err is a lost compare-and-set: the key was not
// at the expected revision, or existed when it was to be created.
func isConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// putLease marks lease alive, owned by gatewayID.
func (s *Service) putLease(ctx context.Context, lease, gatewayID string) error {
	data, err := json.Marshal(leaseValue{GatewayID: gatewayID})
	if err != nil {
		return fmt.Errorf("encode %s: %w", leaseKey(lease), err)
	}
	if _, err := s.kv.Put(ctx, leaseKey(lease), data); err != nil {
		return fmt.Errorf("put %s: %w", leaseKey(lease), err)
	}
	return nil
}

// renewLease puts lease and reports whether it existed before. When it
// existed, the put is guarded by the revision read, so a lease the reaper
// deleted in between is reported as not renewed.
func (s *Service) renewLease(ctx context.Context, lease, gatewayID string) (bool, error) {
	key := leaseKey(lease)
	data, err := json.Marshal(leaseValue{GatewayID: gatewayID})
	if err != nil {
		return false, fmt.Errorf("encode %s: %w", key, err)
	}
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := jitter(ctx, attempt); err != nil {
				return false, fmt.Errorf("%s: %w", key, err)
			}
		}
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err := s.kv.Put(ctx, key, data); err != nil {
				return false, fmt.Errorf("put %s: %w", key, err)
			}
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("get %s: %w", key, err)
		}
		_, err = s.kv.Update(ctx, key, data, e.Revision())
		if isConflict(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("update %s: %w", key, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("%s: %w", key, errBusy)
}

// leaseGone reports whether lease's key is absent (never put, or deleted).
func (s *Service) leaseGone(ctx context.Context, lease string) (bool, error) {
	if !roomid.Valid(lease) {
		return true, nil // cannot be a key: nothing keeps it alive
	}
	_, err := s.kv.Get(ctx, leaseKey(lease))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s: %w", leaseKey(lease), err)
	}
	return false, nil
}

// scan calls fn with the latest entry of every existing key matching
// filter, as of when it starts. With meta, the entries have no values.
func (s *Service) scan(ctx context.Context, filter string, meta bool, fn func(jetstream.KeyValueEntry)) (err error) {
	opts := []jetstream.WatchOpt{jetstream.IgnoreDeletes()}
	if meta {
		opts = append(opts, jetstream.MetaOnly())
	}
	w, err := s.kv.Watch(ctx, filter, opts...)
	if err != nil {
		return fmt.Errorf("scan %s: %w", filter, err)
	}
	defer func() {
		if serr := w.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("scan %s: stop: %w", filter, serr)
		}
	}()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("scan %s: watcher closed", filter)
			}
			if e == nil {
				return nil
			}
			fn(e)
		case <-ctx.Done():
			return fmt.Errorf("scan %s: %w", filter, ctx.Err())
		}
	}
}
