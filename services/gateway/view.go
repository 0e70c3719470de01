package gateway

import (
	"encoding/json"
	"sort"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// known is a participant in a connection's view, with the presence revision
// at which the connection learned of it.
type known struct {
	p   contract.Participant
	rev uint64
}

// learn adds p to c's view, unless it is there already. With notify, it
// returns what renders the frame telling the client, if its dialect tells
// of it. The caller holds the room's lock.
func (c *conn) learn(p contract.Participant, rev uint64, notify bool) func() []byte {
	if _, ok := c.view[p.ConnectionID]; ok {
		return nil
	}
	others := c.users[p.User.ID]
	c.view[p.ConnectionID] = known{p, rev}
	c.users[p.User.ID]++
	if !notify || !c.d.Tells(c.self.User.ID, p.User.ID, others) {
		return nil
	}
	return func() []byte { return c.d.Joined(p) }
}

// forget removes a connection from c's view, if it is there. With notify,
// it returns what renders the frame telling the client, if its dialect
// tells of it. The caller holds the room's lock.
func (c *conn) forget(id, reason string, notify bool) func() []byte {
	k, ok := c.view[id]
	if !ok {
		return nil
	}
	delete(c.view, id)
	u := k.p.User.ID
	if c.users[u]--; c.users[u] == 0 {
		delete(c.users, u)
	}
	if !notify || !c.d.Tells(c.self.User.ID, u, c.users[u]) {
		return nil
	}
	return func() []byte { return c.d.Left(k.p, reason) }
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

func decodeJSON(b []byte, v any) error { return json.Unmarshal(b, v) }
