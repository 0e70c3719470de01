// Package client speaks the native Switchboard protocol (v1) as a client:
// it dials a gateway's /v1/rooms/{room_id}/ws endpoint, reads the welcome,
// sends signals and reads the packets the gateway sends.
//
// It is small on purpose, and cheap enough for a load generator: frames are
// read into a buffer that each Conn reuses, RecvRaw hands out the frame
// without decoding it, and SendRaw writes a frame the caller built itself.
//
//	c, err := client.Dial(ctx, client.URL("ws://127.0.0.1:8080", "demo"), client.Options{Token: tok})
//	if err != nil {
//		var r *client.RefusedError
//		if errors.As(err, &r) { ... r.Status, r.Code ... }
//	}
//	defer c.Close()
//	err = c.Send(ctx, client.Signal{Data: json.RawMessage(`{"kind":"offer","sdp":"v=0"}`)})
//	p, err := c.Recv(ctx)
//
// # Concurrency
//
// A Conn has one reader: Recv and RecvRaw must not be called concurrently
// with each other, and the bytes RecvRaw returns are overwritten by the next
// Recv or RecvRaw. Send, SendRaw, Close and CloseNow are safe to call from any
// goroutine, also while a read is in progress; writes are serialized, one
// frame at a time. Welcome may be called from any goroutine.
//
// As with github.com/coder/websocket underneath, a context that ends while a
// Recv, RecvRaw, Send or SendRaw is in progress closes the connection. Give
// Recv a context that lasts as long as the connection, and close the Conn to
// stop a reader that is waiting.
package client
