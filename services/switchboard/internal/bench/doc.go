// Package bench is `switchboard bench`, the load generator that people run
// against any Switchboard deployment: it speaks the native protocol to one
// or more gateways through shared/client, like real clients do, and prints
// one JSON line of figures per run.
//
// Scenarios:
//
//   - relay: rooms of --size clients, every client sending stamped signals
//     to its room; deliveries per second, latency, loss, reordering and
//     duplicates. Each sender keeps at most --window signals in flight (sent
//     but not yet received by everyone in the room, nor refused), so the
//     load it offers follows what the server delivers and never trips the
//     server's slow-consumer protection.
//   - latency: two clients play ping-pong, one signal at a time; one-way
//     latency and round-trip time.
//   - idle: --conns connections held open; setup rate, and with --pid the
//     server's memory per connection.
//   - join: workers that dial, read the welcome and close, in a loop; joins
//     per second, join latency, failures by code.
//
// Every signal carries its sender's place in the room, a sequence number
// and the send time on the run's monotonic clock (see stamp); all clients
// live in this process, so receive time minus send time is a one-way
// latency with no clock skew. Every wait is bounded, every loop ends by
// count or time, and a cancelled context (Ctrl-C) ends a run early with
// the figures measured so far.
//
// Concurrency: a run owns its goroutines: per connection one reader and, in
// relay, one sender; counters shared between them are atomics, histograms
// and sequence trackers belong to one reader each and are merged once the
// readers have returned. Run returns only after all of them have ended.
package bench
