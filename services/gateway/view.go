package gateway

import (
	"sort"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// learn adds p to the room's view, unless it is known already, and tells
// every welcomed connection that joined before p (and is not p, nor except,
// whose welcome lists p). The caller holds r.mu.
func (r *room) learn(p contract.Participant, except *conn) {
	if _, ok := r.known[p.ConnectionID]; ok {
		return
	}
	others := r.users[p.User.ID]
	r.known[p.ConnectionID] = p
	r.users[p.User.ID]++
	if p.Revision == 0 {
		// Listed without a revision (by an older presence service): it
		// joined before anyone here could be told, so nobody is.
		return
	}
	r.tell(p.Revision, p.ConnectionID, except, func(c *conn) func() []byte {
		if !c.d.Tells(c.self.User.ID, p.User.ID, others) {
			return nil
		}
		return func() []byte { return c.d.Joined(p) }
	})
}

// forget removes connection id from the room's view, if it is there, and
// tells every welcomed connection that joined before rev, the revision of
// the leave. The caller holds r.mu.
func (r *room) forget(id, reason string, rev uint64) {
	p, ok := r.known[id]
	if !ok {
		return
	}
	delete(r.known, id)
	u := p.User.ID
	if r.users[u]--; r.users[u] == 0 {
		delete(r.users, u)
	}
	others := r.users[u]
	r.tell(rev, id, nil, func(c *conn) func() []byte {
		if !c.d.Tells(c.self.User.ID, u, others) {
			return nil
		}
		return func() []byte { return c.d.Left(p, reason) }
	})
}

// tell queues a frame to each welcomed local connection whose join came
// before rev (every one when rev is 0, unknown), other than about (the
// participant itself) and except. frame returns nil when c's dialect says
// nothing, else what renders the frame; it is rendered once per dialect.
func (r *room) tell(rev uint64, about string, except *conn, frame func(c *conn) func() []byte) {
	var cache [maxDialects][]byte
	for _, c := range r.members.Load().list {
		if !c.welcomed || c == except || c.id() == about || rev != 0 && c.joinRev >= rev {
			continue
		}
		if f := frame(c); f != nil {
			if cache[c.dix] == nil {
				cache[c.dix] = f()
			}
			c.send(cache[c.dix])
		}
	}
}

// sortParticipants orders participants by join time, then id.
func sortParticipants(ps []contract.Participant) {
	sort.Slice(ps, func(i, j int) bool {
		if !ps[i].JoinedAt.Equal(ps[j].JoinedAt) {
			return ps[i].JoinedAt.Before(ps[j].JoinedAt)
		}
		return ps[i].ConnectionID < ps[j].ConnectionID
	})
}
