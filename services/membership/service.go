package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// Version is the micro service version reported by $SRV.INFO.
const Version = "0.1.0"

// MaxUserIDLen is the longest user id (owner_id, user_id) accepted, in
// bytes. Longer ids are refused with 400, so that no request can make a
// room too large to store.
const MaxUserIDLen = 256

// StartTimeout bounds Start, within any deadline of its context.
const StartTimeout = 15 * time.Second

// warmTimeout bounds how long Start waits for the rooms cache to load;
// after it, the instance serves anyway, reading the bucket until the cache
// is current.
const warmTimeout = 5 * time.Second

// tracerName names the tracer of the handler spans.
const tracerName = "switchboard/membership"

// Reasons an authorization is refused.
const (
	reasonNoRoom    = "no such room"
	reasonNotMember = "not a member"
)

// Service is a running membership service instance.
type Service struct {
	svc   micro.Service
	h     *handlers
	pools []*rpc.Pool
	watch *watcher

	stopOnce sync.Once
	stopErr  error
}

// Start creates the rooms bucket if it does not exist, starts watching it
// into the instance's cache (waiting up to a few seconds for the cache to
// load), and starts serving the membership endpoints on nc, in the queue
// group every instance shares. When it returns, the NATS server nc is
// connected to routes requests to the new instance. ctx bounds start-up
// only, which takes at most StartTimeout. A nil log discards, a nil tp
// traces nothing.
func Start(ctx context.Context, nc *nats.Conn, cfg Config, log *slog.Logger, tp trace.TracerProvider) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("membership: jetstream: %w", err)
	}
	st, err := openStore(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("membership: %w", err)
	}
	st.cache = newRoomCache()
	s := &Service{
		watch: startWatcher(st.kv, nc, st.cache, log),
	}
	warm := time.NewTimer(warmTimeout)
	defer warm.Stop()
	select {
	case <-st.cache.ready:
	case <-warm.C:
		log.Warn("rooms cache not loaded yet; reading the bucket until it is")
	case <-ctx.Done():
		s.watch.stop()
		return nil, fmt.Errorf("membership: load rooms cache: %w", context.Cause(ctx))
	}
	h := &handlers{store: st, openRooms: cfg.OpenRooms, kick: kicker{nc: nc, log: log}}
	s.h = h

	svc, err := micro.AddService(nc, micro.Config{
		Name:        subject.MembershipService,
		Version:     Version,
		Description: "Switchboard rooms, members and authorization",
	})
	if err != nil {
		s.watch.stop()
		return nil, fmt.Errorf("membership: add service: %w", err)
	}
	s.svc = svc
	tracer := tp.Tracer(tracerName)
	rm := rpc.NewMetrics(registerer(cfg.Metrics), subject.MembershipService)
	endpoints := []struct {
		name, subject string
		handler       micro.Handler
	}{
		{"authorize", subject.MembershipAuthorize, rpc.Handle(tracer, log, subject.MembershipAuthorize, h.authorize, rpc.Measured(rm, "authorize"))},
		{"rooms-create", subject.MembershipRoomsCreate, rpc.Handle(tracer, log, subject.MembershipRoomsCreate, h.createRoom, rpc.Measured(rm, "rooms.create"))},
		{"rooms-get", subject.MembershipRoomsGet, rpc.Handle(tracer, log, subject.MembershipRoomsGet, h.getRoom, rpc.Measured(rm, "rooms.get"))},
		{"rooms-delete", subject.MembershipRoomsDelete, rpc.Handle(tracer, log, subject.MembershipRoomsDelete, h.deleteRoom, rpc.Measured(rm, "rooms.delete"))},
		{"members-add", subject.MembershipMembersAdd, rpc.Handle(tracer, log, subject.MembershipMembersAdd, h.addMember, rpc.Measured(rm, "members.add"))},
		{"members-remove", subject.MembershipMembersRemove, rpc.Handle(tracer, log, subject.MembershipMembersRemove, h.removeMember, rpc.Measured(rm, "members.remove"))},
	}
	for _, e := range endpoints {
		// Each endpoint has its own pool, so that a burst of slow writes
		// cannot hold up authorize.
		pool := rpc.NewPool(nc, rpc.DefaultConcurrency)
		s.pools = append(s.pools, pool)
		if err := svc.AddEndpoint(e.name, pool.Concurrent(e.handler), micro.WithEndpointSubject(e.subject)); err != nil {
			return nil, errors.Join(fmt.Errorf("membership: endpoint %s: %w", e.subject, err), s.Stop())
		}
	}
	// Once the server has our subscriptions, requests find us.
	if err := nc.FlushWithContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("membership: flush: %w", err), s.Stop())
	}
	return s, nil
}

// registerer returns reg, or a registry of its own when reg is nil.
func registerer(reg prometheus.Registerer) prometheus.Registerer {
	if reg == nil {
		return prometheus.NewRegistry()
	}
	return reg
}

// Stop stops serving: no new requests are taken and those already received
// are answered (any still queued when it returns, while nc drains); then
// the cache stops watching the bucket. It does not close nc. Calling it
// again returns the first call's result.
func (s *Service) Stop() error {
	s.stopOnce.Do(func() {
		if err := s.svc.Stop(); err != nil {
			s.stopErr = fmt.Errorf("membership: stop: %w", err)
		}
		for _, p := range s.pools {
			p.Stop()
		}
		s.watch.stop()
	})
	return s.stopErr
}

// handlers serve the endpoints; they keep no state beyond the store's
// cache.
type handlers struct {
	store     *store
	openRooms bool
	kick      kicker
}

func (h *handlers) authorize(ctx context.Context, req *contract.AuthorizeRequest) (*contract.AuthorizeReply, error) {
	if err := checkRoomID(ctx, req.RoomID); err != nil {
		return nil, err
	}
	if err := checkUserID("user_id", req.UserID); err != nil {
		return nil, err
	}
	room, err := h.store.access(ctx, req.RoomID)
	if errors.Is(err, errNoRoom) {
		if h.openRooms {
			return &contract.AuthorizeReply{Allowed: true}, nil
		}
		return &contract.AuthorizeReply{Allowed: false, Reason: reasonNoRoom}, nil
	}
	if err != nil {
		return nil, err
	}
	role := room.role(req.UserID)
	switch room.policy {
	case contract.PolicyOpen:
		return &contract.AuthorizeReply{Allowed: true, Role: role}, nil
	case contract.PolicyMembers:
		if role == "" {
			return &contract.AuthorizeReply{Allowed: false, Reason: reasonNotMember}, nil
		}
		return &contract.AuthorizeReply{Allowed: true, Role: role}, nil
	default:
		// Only something other than this service can have stored it; refuse
		// (fail closed) and let the 500 be logged.
		return nil, fmt.Errorf("room %s has unknown policy %q", req.RoomID, room.policy)
	}
}

func (h *handlers) createRoom(ctx context.Context, req *contract.CreateRoomRequest) (*contract.Room, error) {
	if err := checkRoomID(ctx, req.RoomID); err != nil {
		return nil, err
	}
	if err := checkUserID("owner_id", req.OwnerID); err != nil {
		return nil, err
	}
	switch req.Policy {
	case contract.PolicyOpen, contract.PolicyMembers:
	case "":
		return nil, rpc.Errorf(400, "policy is missing: want %q or %q", contract.PolicyMembers, contract.PolicyOpen)
	default:
		return nil, rpc.Errorf(400, "unknown policy %q: want %q or %q", clip(req.Policy), contract.PolicyMembers, contract.PolicyOpen)
	}
	room := &contract.Room{
		RoomID:    req.RoomID,
		OwnerID:   req.OwnerID,
		Policy:    req.Policy,
		Members:   []contract.Member{{UserID: req.OwnerID, Role: contract.RoleOwner}},
		CreatedAt: time.Now().UTC(),
	}
	if err := h.store.create(ctx, room); err != nil {
		return nil, refusal(req.RoomID, err)
	}
	return room, nil
}

func (h *handlers) getRoom(ctx context.Context, req *contract.RoomRequest) (*contract.Room, error) {
	if err := checkRoomID(ctx, req.RoomID); err != nil {
		return nil, err
	}
	room, _, err := h.store.get(ctx, req.RoomID)
	if err != nil {
		return nil, refusal(req.RoomID, err)
	}
	return room, nil
}

// empty is the reply of membership.rooms.delete: {}.
type empty struct{}

func (h *handlers) deleteRoom(ctx context.Context, req *contract.RoomRequest) (*empty, error) {
	if err := checkRoomID(ctx, req.RoomID); err != nil {
		return nil, err
	}
	if err := h.store.delete(ctx, req.RoomID); err != nil {
		return nil, refusal(req.RoomID, err)
	}
	if !h.openRooms {
		// Nobody may enter a room that does not exist.
		h.kick.out(ctx, req.RoomID, func(contract.User) bool { return true })
	}
	return &empty{}, nil
}

func (h *handlers) addMember(ctx context.Context, req *contract.MemberRequest) (*contract.Room, error) {
	if err := checkRoomID(ctx, req.RoomID); err != nil {
		return nil, err
	}
	if err := checkUserID("user_id", req.UserID); err != nil {
		return nil, err
	}
	role := req.Role
	switch role {
	case "":
		role = contract.RoleMember
	case contract.RoleMember, contract.RoleOwner:
	default:
		return nil, rpc.Errorf(400, "unknown role %q: want %q or %q", clip(role), contract.RoleMember, contract.RoleOwner)
	}
	room, err := h.store.update(ctx, req.RoomID, func(room *contract.Room) (bool, error) {
		if req.UserID == room.OwnerID && role != contract.RoleOwner {
			return false, rpc.Errorf(400, "user %q owns room %s: the owner's role is always %q", req.UserID, room.RoomID, contract.RoleOwner)
		}
		i := slices.IndexFunc(room.Members, func(m contract.Member) bool { return m.UserID == req.UserID })
		if i < 0 {
			room.Members = append(room.Members, contract.Member{UserID: req.UserID, Role: role})
			return true, nil
		}
		if room.Members[i].Role == role {
			return false, nil
		}
		room.Members[i].Role = role
		return true, nil
	})
	if err != nil {
		return nil, refusal(req.RoomID, err)
	}
	return room, nil
}

func (h *handlers) removeMember(ctx context.Context, req *contract.MemberRequest) (*contract.Room, error) {
	if err := checkRoomID(ctx, req.RoomID); err != nil {
		return nil, err
	}
	if err := checkUserID("user_id", req.UserID); err != nil {
		return nil, err
	}
	room, err := h.store.update(ctx, req.RoomID, func(room *contract.Room) (bool, error) {
		if req.UserID == room.OwnerID {
			return false, rpc.Errorf(400, "user %q owns room %s and cannot be removed from it; delete the room instead", req.UserID, room.RoomID)
		}
		n := len(room.Members)
		room.Members = slices.DeleteFunc(room.Members, func(m contract.Member) bool { return m.UserID == req.UserID })
		return len(room.Members) != n, nil
	})
	if err != nil {
		return nil, refusal(req.RoomID, err)
	}
	if room.Policy == contract.PolicyMembers {
		h.kick.out(ctx, req.RoomID, func(u contract.User) bool { return u.ID == req.UserID })
	}
	return room, nil
}

// checkRoomID refuses a room id that breaks the room id rules with 400, and
// otherwise records it on the request's span.
func checkRoomID(ctx context.Context, id string) error {
	if id == "" {
		return rpc.Errorf(400, "room_id is missing")
	}
	if err := roomid.Check(id); err != nil {
		return rpc.Errorf(400, "room_id: %v", err)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("switchboard.room_id", id))
	return nil
}

// checkUserID refuses a missing or over-long user id with 400.
func checkUserID(field, id string) error {
	switch {
	case id == "":
		return rpc.Errorf(400, "%s is missing", field)
	case len(id) > MaxUserIDLen:
		return rpc.Errorf(400, "%s is longer than %d bytes", field, MaxUserIDLen)
	}
	return nil
}

// refusal turns the store's refusals into the codes callers see; anything
// else stays an error, which rpc.Handle logs and sends as 500.
func refusal(id string, err error) error {
	switch {
	case errors.Is(err, errNoRoom):
		return rpc.Errorf(404, "no such room: %s", id)
	case errors.Is(err, errRoomExists):
		return rpc.Errorf(409, "room exists: %s", id)
	case errors.Is(err, nats.ErrMaxPayload):
		return rpc.Errorf(400, "room %s would be too large to store", id)
	}
	return err
}

// clip shortens a client-supplied value quoted back in an error.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
