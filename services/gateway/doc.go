// Package gateway terminates client WebSockets for Switchboard: it checks
// each client's token, asks the membership service whether the client may
// enter the room, registers the connection with the presence service, and
// relays signals through NATS.
//
// A gateway holds one subscription per room it has local connections in
// (room.<id>.signal and room.<id>.presence) and fans messages out to those
// connections itself. Per connection, the HTTP handler goroutine reads
// frames and one writer goroutine drains a bounded send queue; fan-out never
// blocks, and a connection whose queue is full is closed with 1008.
//
// Two dialects share one model of rooms, connections and signals: the native
// protocol (/v1/rooms/{room_id}/ws) and DysonNetwork's
// (/api/chat/realtime/{chat_id}).
//
// A Gateway is safe for concurrent use. Shutdown may be called once.
package gateway
