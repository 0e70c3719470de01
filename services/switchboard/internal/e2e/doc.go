// Package e2e holds Switchboard's end-to-end tests: an embedded NATS server
// with JetStream, real membership, presence and gateway services (several
// of them where the behaviour is about scale), and real WebSocket clients.
package e2e
