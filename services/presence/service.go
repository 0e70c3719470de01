package presence

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchboard-rtc/switchboard/shared/bucket"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
	"github.com/switchboard-rtc/switchboard/shared/telemetry"
)

// version is the micro service version, as seen by $SRV.INFO.
const version = "0.1.0"

// Service is a running presence service instance.
type Service struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	cfg    Config
	log    *slog.Logger
	tracer trace.Tracer

	gatewaysLost prometheus.Counter
	svc          micro.Service
	pool         *rpc.Pool
	leases       *leaseCache
	mirror       *mirror
	fence        string // this instance's fence key

	stopMirror context.CancelFunc
	mirrorDone chan struct{}
	watching   atomic.Pointer[jetstream.KeyWatcher] // the mirror's watcher, for tests

	stopReaper context.CancelFunc
	reaperDone chan struct{}
	reapPasses atomic.Int64 // passes ended, for tests
}

// Start opens (creating if need be) the KV bucket, migrates room keys of
// the older layout, registers the presence micro service with its
// endpoints and starts the reaper. ctx bounds the start-up only; the
// service runs until Stop. A nil log discards, a nil tp traces nothing.
func Start(ctx context.Context, nc *nats.Conn, cfg Config, log *slog.Logger, tp trace.TracerProvider) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("presence: jetstream: %w", err)
	}
	kv, err := bucket.Open(ctx, js, jetstream.KeyValueConfig{
		Bucket:         bucketName,
		Description:    "Switchboard presence: rooms.<room_id>.<connection_id> participants, leases.<lease> liveness",
		History:        1,
		Storage:        jetstream.FileStorage,
		LimitMarkerTTL: markerTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	s := &Service{
		nc:     nc,
		js:     js,
		kv:     kv,
		cfg:    cfg,
		log:    log,
		tracer: tp.Tracer("switchboard/presence"),
		pool:   rpc.NewPool(nc, rpc.DefaultConcurrency),
		leases: newLeaseCache(cfg.LeaseTTL),
		mirror: newMirror(markerTTL),
	}
	if err := s.migrateAll(ctx); err != nil {
		// The reaper migrates what is left.
		log.Warn("migrating room keys failed", slog.Any("err", err))
	}
	if err := s.startMirror(ctx); err != nil {
		return nil, err
	}
	s.svc, err = micro.AddService(nc, micro.Config{
		Name:        subject.PresenceService,
		Version:     version,
		Description: "who is in which room, across gateways",
	})
	if err != nil {
		s.stopWatching()
		return nil, fmt.Errorf("presence: add service: %w", err)
	}
	s.fence = fencePrefix + s.svc.Info().ID
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	rm := rpc.NewMetrics(reg, subject.PresenceService)
	s.gatewaysLost = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_presence_gateways_lost_total",
		Help: "Gateway leases this instance found expired and removed.",
	})
	reg.MustRegister(s.gatewaysLost, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "switchboard_presence_participants",
		Help: "Connections in all rooms, as this instance's mirror last saw them.",
	}, func() float64 { return float64(s.mirror.participants()) }))
	endpoints := []struct {
		name, subject string
		handler       micro.Handler
	}{
		{"list", subject.PresenceList, rpc.Handle(s.tracer, log, subject.PresenceList, s.list, rpc.Measured(rm, "list"))},
		{"join", subject.PresenceJoin, rpc.Handle(s.tracer, log, subject.PresenceJoin, s.join, rpc.Measured(rm, "join"))},
		{"leave", subject.PresenceLeave, rpc.Handle(s.tracer, log, subject.PresenceLeave, s.leave, rpc.Measured(rm, "leave"))},
		{"heartbeat", subject.PresenceHeartbeat, rpc.Handle(s.tracer, log, subject.PresenceHeartbeat, s.heartbeat, rpc.Measured(rm, "heartbeat"))},
	}
	for _, e := range endpoints {
		h := s.pool.Concurrent(e.handler)
		if err := s.svc.AddEndpoint(e.name, h, micro.WithEndpointSubject(e.subject)); err != nil {
			err = errors.Join(fmt.Errorf("presence: endpoint %s: %w", e.subject, err), s.svc.Stop())
			s.stopWatching()
			return nil, err
		}
	}
	// Make sure the server has the subscriptions before anyone is told
	// the service runs.
	flush := nc.Flush
	if _, ok := ctx.Deadline(); ok {
		flush = func() error { return nc.FlushWithContext(ctx) }
	}
	if err := flush(); err != nil {
		err = errors.Join(fmt.Errorf("presence: flush: %w", err), s.svc.Stop())
		s.stopWatching()
		return nil, err
	}
	reapCtx, cancel := context.WithCancel(context.Background())
	s.stopReaper = cancel
	s.reaperDone = make(chan struct{})
	go func() {
		defer close(s.reaperDone)
		s.runReaper(reapCtx)
	}()
	return s, nil
}

// Stop stops taking requests and stops the reaper, waiting for its pass to
// end. Requests already received are still answered: micro drains its
// subscriptions, and Stop waits for the handlers still running. Then it
// stops watching the bucket. Stop may be called more than once.
func (s *Service) Stop() error {
	err := s.svc.Stop()
	s.pool.Stop()
	s.stopReaper()
	<-s.reaperDone
	s.stopWatching()
	if err != nil {
		return fmt.Errorf("presence: stop service: %w", err)
	}
	return nil
}

// badRequest returns a 400 naming the field.
func badRequest(field string, err error) *rpc.Error {
	return rpc.Errorf(400, "%s: %v", field, err)
}

// errMissing is the description of a required field left empty.
var errMissing = errors.New("missing")

func checkID(field, id string) error {
	if err := roomid.Check(id); err != nil {
		return badRequest(field, err)
	}
	return nil
}

func checkJoin(req *contract.JoinRequest) error {
	if err := checkID("room_id", req.RoomID); err != nil {
		return err
	}
	switch {
	case req.Participant.ConnectionID == "":
		return badRequest("participant.connection_id", errMissing)
	case req.Participant.User.ID == "":
		return badRequest("participant.user.id", errMissing)
	}
	return cmp.Or(
		checkID("participant.connection_id", req.Participant.ConnectionID),
		checkID("participant.gateway_id", req.Participant.GatewayID),
		checkID("lease", req.Lease),
	)
}

func (s *Service) join(ctx context.Context, req *contract.JoinRequest) (*contract.JoinReply, error) {
	if err := checkJoin(req); err != nil {
		return nil, err
	}
	p := req.Participant
	p.Revision = 0
	if p.JoinedAt.IsZero() {
		p.JoinedAt = time.Now().UTC()
	}
	if err := s.ensureLease(ctx, req.Lease, p.GatewayID); err != nil {
		return nil, err
	}
	rev, err := s.createEntry(ctx, req.RoomID, entry{Participant: p, Lease: req.Lease})
	if errors.Is(err, jetstream.ErrKeyExists) {
		// A repeat: it is already there. Nothing changes, nothing is
		// announced, and the reply shows the room as it is now.
		entries, now, err := s.roomNow(ctx, req.RoomID)
		if err != nil {
			return nil, err
		}
		return &contract.JoinReply{Participants: participants(entries, p.ConnectionID), Revision: now}, nil
	}
	if err != nil {
		return nil, err
	}
	p.Revision = rev
	ev := contract.PresenceEvent{Event: contract.EventJoined, Participant: p, Revision: rev}
	if err := s.publish(ctx, req.RoomID, ev); err != nil {
		return nil, err
	}
	// Everyone registered before this join and still there at its
	// revision: the changes before rev are in the reply, the later ones
	// reach the gateway as events.
	if err := s.mirror.wait(ctx, rev); err != nil {
		return nil, fmt.Errorf("room %s at revision %d: %w", req.RoomID, rev, err)
	}
	entries, _ := s.mirror.at(req.RoomID, rev-1)
	return &contract.JoinReply{Participants: participants(entries, p.ConnectionID), Revision: rev}, nil
}

func (s *Service) leave(ctx context.Context, req *contract.LeaveRequest) (*contract.LeaveReply, error) {
	if err := checkID("room_id", req.RoomID); err != nil {
		return nil, err
	}
	if req.ConnectionID == "" {
		return nil, badRequest("connection_id", errMissing)
	}
	if err := checkID("connection_id", req.ConnectionID); err != nil {
		return nil, err
	}
	reason := req.Reason
	switch reason {
	case "":
		reason = contract.ReasonClosed
	case contract.ReasonClosed, contract.ReasonGatewayLost, contract.ReasonKicked:
	default:
		return nil, rpc.Errorf(400, "reason: want %s, %s or %s, got %q",
			contract.ReasonClosed, contract.ReasonGatewayLost, contract.ReasonKicked, reason)
	}
	key := roomKey(req.RoomID, req.ConnectionID)
	// The mirror usually knows the entry: then removing it is one write.
	e, ok := s.mirror.lookup(req.RoomID, req.ConnectionID)
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := jitter(ctx, attempt); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
		if !ok || attempt > 0 {
			kve, err := s.kv.Get(ctx, key)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return &contract.LeaveReply{Removed: false}, nil
			}
			if err != nil {
				return nil, fmt.Errorf("get %s: %w", key, err)
			}
			if e, err = decodeEntry(req.ConnectionID, kve.Value()); err != nil {
				// Damaged: remove it all the same, announcing what is known.
				e = entry{Participant: contract.Participant{ConnectionID: req.ConnectionID}}
			}
			e.Revision = kve.Revision()
		}
		rev, err := s.removeEntry(ctx, req.RoomID, e, e.Revision)
		if isConflict(err) {
			continue // removed, or written again, since it was read
		}
		if err != nil {
			return nil, err
		}
		ev := contract.PresenceEvent{Event: contract.EventLeft, Participant: e.Participant, Reason: reason, Revision: rev}
		if err := s.publish(ctx, req.RoomID, ev); err != nil {
			return nil, err
		}
		return &contract.LeaveReply{Removed: true}, nil
	}
	return nil, fmt.Errorf("%s: %w", key, errBusy)
}

func (s *Service) heartbeat(ctx context.Context, req *contract.HeartbeatRequest) (*contract.HeartbeatReply, error) {
	if err := cmp.Or(checkID("gateway_id", req.GatewayID), checkID("lease", req.Lease)); err != nil {
		return nil, err
	}
	renewed, err := s.renewLease(ctx, req.Lease, req.GatewayID)
	if err != nil {
		return nil, err
	}
	return &contract.HeartbeatReply{Renewed: renewed}, nil
}

func (s *Service) list(ctx context.Context, req *contract.RoomRequest) (*contract.PresenceList, error) {
	if err := checkID("room_id", req.RoomID); err != nil {
		return nil, err
	}
	entries, rev, err := s.roomNow(ctx, req.RoomID)
	if err != nil {
		return nil, err
	}
	return &contract.PresenceList{RoomID: req.RoomID, Participants: participants(entries, ""), Revision: rev}, nil
}

// publish sends ev on room.<room_id>.presence with ctx's trace context.
func (s *Service) publish(ctx context.Context, roomID string, ev contract.PresenceEvent) error {
	subj, err := subject.RoomPresence(roomID)
	if err != nil {
		return err
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", ev.Event, err)
	}
	if err := telemetry.Publish(ctx, s.nc, subj, data); err != nil {
		return fmt.Errorf("publish %s: %w", subj, err)
	}
	return nil
}

// roomNow returns the room's entries as of now, and the revision they are
// at: the last change to the room at or before a fence written now (the
// fence itself when the mirror knows of none).
func (s *Service) roomNow(ctx context.Context, roomID string) ([]entry, uint64, error) {
	f, err := s.writeFence(ctx)
	if err != nil {
		return nil, 0, err
	}
	if err := s.mirror.wait(ctx, f); err != nil {
		return nil, 0, fmt.Errorf("room %s at revision %d: %w", roomID, f, err)
	}
	entries, last := s.mirror.at(roomID, f)
	if last == 0 {
		last = f
	}
	return entries, last, nil
}
