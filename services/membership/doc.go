// Package membership is Switchboard's membership service: it owns rooms and
// their members and answers whether a user may enter a room.
//
// It speaks the membership part of the NATS contract
// (shared/spec/nats-contract.md) as a nats.go micro service named
// "membership", on the subjects in package subject: membership.authorize,
// membership.rooms.{create,get,delete} and membership.members.{add,remove}.
// Payloads are the types in package contract; refusals are *rpc.Error codes
// 400, 404 and 409, failures 500.
//
// Rooms are stored as JSON in the JetStream KV bucket "rooms", one key per
// room id, so they survive restarts. The bucket is the only truth: every
// endpoint but authorize reads and writes it directly.
//
// # The rooms cache
//
// authorize answers from an in-memory copy of the bucket (cache.go), kept
// current by a KV watch of every key, deletions included (watch.go): per
// room its policy and its members' roles, so that a connection attempt
// costs a lookup rather than a bucket read and the decoding of the whole
// room. The instance's own writes are applied to the copy as soon as they
// are stored; other instances' writes arrive with the watch, normally
// within milliseconds. Every entry keeps the revision it came from and is
// never replaced by an older one.
//
// The copy answers only while it is known to be current to within maxStale
// (2 s): at the end of the watch's initial values, and then every
// probeEvery (500 ms), the instance reads the bucket's newest revision from
// its stream and confirms that the watch has delivered it. Otherwise (still
// loading, NATS disconnected, the bucket gone, the watch stalled or lost,
// JetStream unreachable) authorize reads the bucket, as the other endpoints
// do. The watch loop starts a new watch after a reconnect, when the watch
// ends, when the bucket is back or was created anew, and when a probe finds
// the watch behind and silent for stallAfter.
//
// A stored value that is not a room, or names an unknown policy, makes
// authorize fail (500) from the copy as from the bucket; it is never taken
// for a missing room.
//
// # Concurrency
//
// Any number of instances may run against one NATS system: they share one
// queue group, and every read-modify-write of a room is a compare-and-set on
// the key's revision, retried a bounded number of times on conflict, so no
// update is lost however requests are spread across instances.
//
// Within one instance each endpoint serves up to rpc.DefaultConcurrency
// requests at once, on its own rpc.Pool, each with its own
// timeout (rpc.Timeout); a burst on one endpoint does not hold up another.
// One goroutine owns the watch and applies its updates; the cache is
// guarded by a read-write mutex that is never held across I/O. A *Service
// is safe for concurrent use; Stop may be called more than once.
package membership
