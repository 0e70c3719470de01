package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"

	"github.com/switchboard-rtc/switchboard/shared/client"
)

// stamp is what every signal the bench sends carries in its data:
//
//	{"src":1,"seq":42,"ts":1234567,"pad":"xxxx..."}
//
// src is the sender's place in its room, seq counts the sender's signals
// from 1, and ts is the send time in nanoseconds on the run's monotonic
// clock (all clients live in one process, so receive time minus ts is the
// one-way latency). pad fills the data up to the --payload size.
type stamp struct {
	src, seq, ts int64
}

const framePrefix = `{"type":"signal","data":{"src":`

// appendFrame appends the client frame of a signal carrying st, with data
// of payload bytes (or the fewest that hold the stamp, if more).
func appendFrame(dst []byte, st stamp, payload int) []byte {
	dst = append(dst, framePrefix...)
	start := len(dst) - len(`{"src":`)
	dst = strconv.AppendInt(dst, st.src, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, st.seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, st.ts, 10)
	dst = append(dst, `,"pad":"`...)
	for pad := payload - (len(dst) - start) - len(`"}`); pad > 0; pad-- {
		dst = append(dst, 'x')
	}
	return append(dst, `"}}`...)
}

var (
	signalPrefix = []byte(`{"type":"signal"`)
	dataStamp    = []byte(`"data":{"src":`)
)

// parseStamp finds the stamp in a signal frame from the gateway
// ({"type":"signal","from":{...},"data":{"src":...}}). ok is false for any
// other frame.
func parseStamp(frame []byte) (st stamp, ok bool) {
	if !bytes.HasPrefix(frame, signalPrefix) {
		return st, false
	}
	i := bytes.Index(frame, dataStamp)
	if i < 0 {
		return st, false
	}
	b := frame[i+len(dataStamp):]
	if st.src, b, ok = cutInt(b, `,"seq":`); !ok {
		return st, false
	}
	if st.seq, b, ok = cutInt(b, `,"ts":`); !ok {
		return st, false
	}
	st.ts, _, ok = cutInt(b, `,"pad":`)
	return st, ok
}

// cutInt reads a non-negative decimal integer at the start of b, which must
// be followed by sep, and returns what follows sep.
func cutInt(b []byte, sep string) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	if i == 0 || !bytes.HasPrefix(b[i:], []byte(sep)) {
		return 0, nil, false
	}
	return n, b[i+len(sep):], true
}

// errorCode names a failure for the report's errors: the code of a
// refusal or of an error packet, closed_<status> for a connection the
// gateway closed, or a word for what went wrong on the network.
func errorCode(err error) string {
	var r *client.RefusedError
	var ne net.Error
	switch {
	case errors.As(err, &r):
		if r.Code != "" {
			return r.Code
		}
		return "http_" + strconv.Itoa(r.Status)
	case client.CloseStatus(err) >= 0:
		return "closed_" + strconv.Itoa(client.CloseStatus(err))
	case errors.Is(err, client.ErrNoWelcome):
		return "no_welcome"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection_lost"
	}
	return "other"
}
