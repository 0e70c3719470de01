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
// instances share it and an instance keeps nothing that is not also there:
//
//   - rooms.<room_id>.<connection_id>: one connection in a room, a
//     contract.Participant plus the lease it was registered under. Both ids
//     follow the room id rules, so a key has exactly three tokens.
//   - leases.<lease>: {"gateway_id":...}; the time of its last put is the
//     lease's liveness.
//   - fences.<instance id>: written by presence.list, see below.
//
// A join creates its key (one write, whatever the size of the room; a key
// that exists makes the join a repeat, which changes and announces
// nothing). A leave purges the key, guarded by the revision it was read at,
// so of several leaves, and reapers, only one removes an entry, and only
// that one publishes its left event. The purge leaves a marker that
// carries the removed entry and the revision it was created at, and
// expires after a minute. KV revisions are the sequence numbers of the
// bucket's stream, so they order every change to every room.
//
// # Listing a room
//
// Each instance keeps a mirror of all rooms in memory, fed in revision
// order by a watcher of rooms.> and fences.> (see mirror). A join with
// revision R waits until its mirror has applied R, then replies with the
// room as of R-1: every entry created before R and not removed by then,
// including entries that were removed after R (the mirror keeps removed
// entries for a minute). So of any two connections in a room exactly one
// lists the other in its join reply, the later one, and the earlier learns
// of the later from its joined event, which carries R. presence.list
// writes its instance's fence key, waits for the mirror to apply that
// write, and lists the room as of it: then it reflects every change stored
// before the request.
//
// Events about one room may be published by different instances, so two
// events can arrive in the other order than their writes happened; their
// revisions put them back in order.
//
// # Leases
//
// A join needs its lease key to exist, so that the reaper can tell when
// the gateway is gone. An instance remembers when it last wrote each lease
// (joins and heartbeats): within half of LeaseTTL of that write, the key
// cannot have been reaped, and a join writes nothing for it; otherwise the
// join puts it.
//
// Every instance runs a reaper. A lease not put for longer than
// Config.LeaseTTL is expired: the reaper deletes its key, guarded by the
// revision it saw, so a heartbeat that lands first keeps the lease alive.
// Only then are the lease's entries (found by a scan of rooms.>) removed,
// each guarded by its revision, with left events whose reason is
// gateway_lost. Because the deletion comes first, and a heartbeat renews
// with compare-and-set too, a heartbeat that answers renewed=true means the
// lease never lapsed; once any entry of a lease has been reaped, heartbeats
// for it answer renewed=false (until a join under that lease puts it again,
// so a gateway should also treat a left event for one of its own
// connections as final). Entries whose lease key is missing (an instance
// stopped between the two steps) are removed once they are older than
// LeaseTTL.
//
// # Older data
//
// Before each connection had its own key, a room was one key,
// rooms.<room_id>, holding {"participants":[...]}. Start migrates such keys
// before it serves, and the reaper migrates any it finds later (see
// migrate).
//
// # Concurrency
//
// Each instance serves up to rpc.DefaultConcurrency requests at once
// (rpc.Pool): nats.go micro calls each endpoint's handler from one
// goroutine, and the pool hands every request to a goroutine of its own.
// Handlers share no state but the mirror and the lease cache, each guarded
// by its mutex. The reaper and the mirror's watcher run in goroutines of
// their own. A Service's methods are safe for concurrent use, and Stop may
// be called more than once.
package presence
