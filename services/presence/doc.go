// Package presence is the presence service: it knows which connections are
// in which room, across every gateway, and tells each room when that
// changes.
//
// Gateways report to it over NATS request/reply (presence.join,
// presence.leave, presence.heartbeat); anyone may ask presence.list. After
// each change it publishes a joined or left event on room.<room_id>.presence.
//
// # Storage
//
// State lives in the JetStream KV bucket "presence", so any number of
// instances share it and an instance keeps nothing of its own:
//
//   - rooms.<room_id>: {"participants":[...]}, each a contract.Participant
//     plus the lease it was registered under.
//   - leases.<lease>: {"gateway_id":...}; the time of its last put is the
//     lease's liveness. Joins and heartbeats put it.
//
// Every change to a room key is a read-modify-write guarded by the key's
// revision (compare and set), retried on conflict. That serializes the
// changes to one room across all instances, which gives the guarantees
// gateways rely on:
//
//   - A join's reply lists exactly the participants stored before it, and its
//     joined event is published only by the request whose write added the
//     entry; so of any two connections in a room, exactly one learns of the
//     other from its join reply and the other from a joined event.
//   - A left event is published only by whoever's write removed the entry,
//     so each joined is followed by exactly one left, even when several
//     instances reap at once.
//
// Events about one room may be published by different instances, so two
// events can arrive in the other order than their writes happened; a
// gateway matches them by connection id.
//
// # Leases
//
// Every instance runs a reaper. A lease not put for longer than
// Config.LeaseTTL is expired: the reaper deletes its key, guarded by the
// revision it saw, so a heartbeat that lands first keeps the lease alive.
// Only then are the lease's entries removed, with left events whose reason
// is gateway_lost. Because the deletion comes first, and a heartbeat
// renews with compare-and-set too, a heartbeat that answers renewed=true
// means the lease never lapsed; once any entry of a lease has been reaped,
// heartbeats for it answer renewed=false (until a join under that lease
// puts it again, so a gateway should also treat a left event for one of
// its own connections as final). Entries whose lease key is missing (an instance stopped
// between the two steps) are removed once they are older than LeaseTTL.
// Deletions leave short-lived markers (they expire after a minute), so the
// bucket does not grow with every room ever used.
//
// # Concurrency
//
// nats.go micro calls each endpoint's handler from one goroutine, so an
// instance serves one request per endpoint at a time (micro reads the
// request back after the handler returns, so handlers cannot hand requests
// to other goroutines); run more instances to serve more. The reaper runs
// in its own goroutine. A Service's methods are safe for concurrent use,
// and Stop may be called more than once.
package presence
