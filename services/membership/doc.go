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
// room id, so they survive restarts.
//
// # Concurrency
//
// Any number of instances may run against one NATS system: they share one
// queue group, and every read-modify-write of a room is a compare-and-set on
// the key's revision, retried a bounded number of times on conflict, so no
// update is lost however requests are spread across instances.
//
// Within one instance each endpoint serves its requests one at a time (one
// NATS subscription per endpoint), each with its own timeout (rpc.Timeout).
// Run more instances to serve more. A *Service is safe for concurrent use;
// Stop may be called more than once.
package membership
