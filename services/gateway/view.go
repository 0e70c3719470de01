package gateway

import (
	"github.com/switchboard-rtc/switchboard/services/gateway/internal/dyson"
	"github.com/switchboard-rtc/switchboard/services/gateway/internal/native"
	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// known is a participant in a connection's view, with the presence revision
// at which the connection learned of it.
type known struct {
	p   contract.Participant
	rev uint64
}

// learn adds p to c's view, unless it is there already, and if notify tells
// the client in its dialect: native clients hear of every connection, Dyson
// clients of an account's first connection only (never their own).
// The caller holds the room's lock.
func (c *conn) learn(p contract.Participant, rev uint64, notify bool) {
	if _, ok := c.view[p.ConnectionID]; ok {
		return
	}
	c.view[p.ConnectionID] = known{p, rev}
	c.users[p.User.ID]++
	switch {
	case !notify:
	case c.dialect == dialectNative:
		c.enqueue(native.Joined(p))
	case p.User.ID != c.self.User.ID && c.users[p.User.ID] == 1:
		c.enqueue(dyson.Presence(dyson.KindUserJoined, p.User))
	}
}

// forget removes a connection from c's view, if it is there, and if notify
// tells the client: native clients of every connection, Dyson clients when an
// account's last connection goes. The caller holds the room's lock.
func (c *conn) forget(id, reason string, notify bool) {
	k, ok := c.view[id]
	if !ok {
		return
	}
	delete(c.view, id)
	u := k.p.User.ID
	if c.users[u]--; c.users[u] == 0 {
		delete(c.users, u)
	}
	switch {
	case !notify:
	case c.dialect == dialectNative:
		c.enqueue(native.Left(k.p, reason))
	case u != c.self.User.ID && c.users[u] == 0:
		c.enqueue(dyson.Presence(dyson.KindUserLeft, k.p.User))
	}
}
