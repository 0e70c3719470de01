// Package contract holds the JSON payloads that travel over NATS between
// Switchboard services, and that platform teams may speak themselves: the
// relayed signal, presence events, and the requests and replies of the
// membership and presence services.
//
// The types are plain data and safe to share once built.
package contract
