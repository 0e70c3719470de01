package presence

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

const (
	// bucketName is the JetStream KV bucket presence keeps its state in.
	bucketName = "presence"
	// keySubjectPrefix is what the bucket's stream prefixes each key with
	// to make its subject.
	keySubjectPrefix = "$KV." + bucketName + "."

	// markerTTL is how long the marker of a removed key stays in the
	// bucket; the server then removes it. The mirror keeps removed entries
	// as long.
	markerTTL = time.Minute

	roomPrefix  = "rooms."
	leasePrefix = "leases."
	fencePrefix = "fences."

	// maxAttempts bounds the compare-and-set retries of one change.
	maxAttempts = 200

	// KV headers, as nats.go's KV writes them.
	kvOperationHeader = "KV-Operation"
	kvOperationPurge  = "PURGE"
)

// errBusy is returned (wrapped with the key) when a change lost the
// compare-and-set race maxAttempts times in a row.
var errBusy = errors.New("too many concurrent changes")

// entry is one connection in a room, the value of the key
// rooms.<room_id>.<connection_id>: the participant and the lease it was
// registered under.
//
// When the entry is removed, its key is purged with a marker whose value is
// the entry again, with Joined set to the revision the entry was created
// at (see mirror).
//
// The participant's Revision is not stored: it is the revision of the
// entry's key, set when the entry is read.
type entry struct {
	contract.Participant
	Lease  string `json:"lease"`
	Joined uint64 `json:"joined_revision,omitempty"`
}

// leaseValue is the JSON value of a leases.<lease> key.
type leaseValue struct {
	GatewayID string `json:"gateway_id"`
}

// roomKey is the key of one connection in a room:
// rooms.<room_id>.<connection_id>. Both are checked ids (roomid rules), so
// the key has exactly three tokens.
func roomKey(roomID, connID string) string { return roomPrefix + roomID + "." + connID }

func leaseKey(lease string) string { return leasePrefix + lease }

// splitRoomKey splits a key below rooms. into its room id and connection
// id. A key of the older layout (rooms.<room_id>) has no connection id.
func splitRoomKey(key string) (roomID, connID string, ok bool) {
	rest, ok := strings.CutPrefix(key, roomPrefix)
	if !ok || rest == "" {
		return "", "", false
	}
	roomID, connID, dotted := strings.Cut(rest, ".")
	if roomID == "" || (dotted && connID == "") || strings.Contains(connID, ".") {
		return "", "", false
	}
	return roomID, connID, true
}

// decodeEntry parses the value of a room key (or of the marker that
// removed it) found under connID. An entry that does not name the
// connection of its key is damage, not an entry.
func decodeEntry(connID string, data []byte) (entry, error) {
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		return entry{}, err
	}
	if e.ConnectionID != connID {
		return entry{}, fmt.Errorf("entry names connection %q, its key %q", e.ConnectionID, connID)
	}
	return e, nil
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

// createEntry stores e as a new key and returns its revision. A key that
// exists returns an error wrapping jetstream.ErrKeyExists. A key that was
// removed is created again (a marker is not an entry).
func (s *Service) createEntry(ctx context.Context, roomID string, e entry) (uint64, error) {
	e.Joined, e.Revision = 0, 0
	data, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("encode entry %s: %w", e.ConnectionID, err)
	}
	key := roomKey(roomID, e.ConnectionID)
	rev, err := s.kv.Create(ctx, key, data)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", key, err)
	}
	return rev, nil
}

// removeEntry purges the key of e, created at revision rev, if it is still
// at rev, and returns the revision of the purge. The marker it leaves
// carries the entry and rev. A lost race (the key was removed or written
// since) returns an error for which isConflict is true.
func (s *Service) removeEntry(ctx context.Context, roomID string, e entry, rev uint64) (uint64, error) {
	e.Joined, e.Revision = rev, 0
	data, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("encode entry %s: %w", e.ConnectionID, err)
	}
	return s.purge(ctx, roomKey(roomID, e.ConnectionID), rev, data)
}

// purge purges key if it is still at revision rev, leaving a marker with
// value that expires after markerTTL, and returns the marker's revision.
// It is what kv.Purge sends, with a value, and it tells the revision.
func (s *Service) purge(ctx context.Context, key string, rev uint64, value []byte) (uint64, error) {
	return s.writeMarker(ctx, key, value, jetstream.WithExpectLastSequencePerSubject(rev))
}

// writeFence purges this instance's fence key, fences.<instance id>, and
// returns the revision of that write. Once the mirror has applied it, the
// mirror holds every change stored before it.
func (s *Service) writeFence(ctx context.Context) (uint64, error) {
	return s.writeMarker(ctx, s.fence, nil)
}

// writeMarker writes a purge marker for key, with value, expiring after
// markerTTL.
func (s *Service) writeMarker(ctx context.Context, key string, value []byte, opts ...jetstream.PublishOpt) (uint64, error) {
	m := nats.NewMsg(keySubjectPrefix + key)
	m.Header.Set(kvOperationHeader, kvOperationPurge)
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	m.Data = value
	ack, err := s.js.PublishMsg(ctx, m, append(opts, jetstream.WithMsgTTL(markerTTL))...)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", key, err)
	}
	return ack.Sequence, nil
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
