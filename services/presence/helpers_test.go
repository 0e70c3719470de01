package presence

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/natstest"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/syncbuf"
)

// testConfig makes leases run out quickly.
var testConfig = Config{LeaseTTL: time.Second, ReapInterval: 100 * time.Millisecond}

// legacyRoomKey is the key that held a whole room before each connection
// had its own key: rooms.<room_id>.
func legacyRoomKey(roomID string) string { return roomPrefix + roomID }

// startService starts an instance on its own connection to s. It is
// stopped when the test ends, and its log is shown if the test failed.
func startService(tb testing.TB, s *server.Server, cfg Config, tp trace.TracerProvider) *Service {
	tb.Helper()
	nc := natstest.Connect(tb, s)
	logs := &syncbuf.Buffer{}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("service log:\n%s", logs.String())
		}
	})
	svc, err := Start(context.Background(), nc, cfg, slog.New(slog.NewTextHandler(logs, nil)), tp)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := svc.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return svc
}

// call sends req to subj and returns the decoded reply.
func call[Rep any](tb testing.TB, nc *nats.Conn, subj string, req any) Rep {
	tb.Helper()
	var rep Rep
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rpc.Call(ctx, nc, subj, req, &rep); err != nil {
		tb.Fatalf("%s: %v", subj, err)
	}
	return rep
}

func join(tb testing.TB, nc *nats.Conn, room, conn, user, lease string) contract.JoinReply {
	tb.Helper()
	return call[contract.JoinReply](tb, nc, subject.PresenceJoin, contract.JoinRequest{
		RoomID:      room,
		Participant: contract.Participant{ConnectionID: conn, User: contract.User{ID: user}, GatewayID: "gw-" + lease},
		Lease:       lease,
	})
}

func leave(tb testing.TB, nc *nats.Conn, room, conn, reason string) bool {
	tb.Helper()
	return call[contract.LeaveReply](tb, nc, subject.PresenceLeave, contract.LeaveRequest{
		RoomID: room, ConnectionID: conn, Reason: reason,
	}).Removed
}

func heartbeat(tb testing.TB, nc *nats.Conn, lease string) bool {
	tb.Helper()
	return call[contract.HeartbeatReply](tb, nc, subject.PresenceHeartbeat, contract.HeartbeatRequest{
		GatewayID: "gw-" + lease, Lease: lease,
	}).Renewed
}

func list(tb testing.TB, nc *nats.Conn, room string) []contract.Participant {
	tb.Helper()
	return call[contract.PresenceList](tb, nc, subject.PresenceList, contract.RoomRequest{RoomID: room}).Participants
}

// ids returns the connection ids of ps, in order.
func ids(ps []contract.Participant) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ConnectionID
	}
	return out
}

// event is a presence event as received, with its headers.
type event struct {
	contract.PresenceEvent
	Subject string
	Header  nats.Header
}

// eventLog records the presence events of some rooms through a real
// subscription.
//
// An instance publishes a request's event before it replies, on the same
// connection, so when the log shares the requester's connection every
// event of a request is queued by the time its reply has arrived: take
// then sees it without waiting.
type eventLog struct {
	tb   testing.TB
	subs []*nats.Subscription
	mu   sync.Mutex
	got  []event
}

func watchRooms(tb testing.TB, nc *nats.Conn, rooms ...string) *eventLog {
	tb.Helper()
	l := &eventLog{tb: tb}
	for _, room := range rooms {
		subj, err := subject.RoomPresence(room)
		if err != nil {
			tb.Fatal(err)
		}
		sub, err := nc.SubscribeSync(subj)
		if err != nil {
			tb.Fatal(err)
		}
		l.subs = append(l.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		tb.Fatal(err)
	}
	return l
}

// all returns every event received so far.
func (l *eventLog) all() []event {
	l.tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sub := range l.subs {
		for {
			m, err := sub.NextMsg(0)
			if errors.Is(err, nats.ErrTimeout) {
				break
			}
			if err != nil {
				l.tb.Fatal(err)
			}
			var ev event
			if err := json.Unmarshal(m.Data, &ev.PresenceEvent); err != nil {
				l.tb.Fatalf("event on %s is not JSON: %v: %s", m.Subject, err, m.Data)
			}
			ev.Subject, ev.Header = m.Subject, m.Header
			l.got = append(l.got, ev)
		}
	}
	return append([]event(nil), l.got...)
}

// take returns the events received since the last take.
func (l *eventLog) take() []event {
	l.tb.Helper()
	evs := l.all()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = l.got[:0]
	return evs
}

// count returns how many events of kind name connection conn has had.
func count(evs []event, kind, conn string) int {
	n := 0
	for _, ev := range evs {
		if ev.Event == kind && ev.Participant.ConnectionID == conn {
			n++
		}
	}
	return n
}
