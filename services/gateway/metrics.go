package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/services/gateway/dialect"
)

// metrics are the gateway's Prometheus series (observability.md). Label
// values come from fixed sets; the children a hot path touches are resolved
// once, so counting a signal is an atomic add.
type metrics struct {
	rooms        prometheus.Gauge
	admissions   *prometheus.CounterVec // dialect, result
	signalErrors *prometheus.CounterVec // code
	disconnects  *prometheus.CounterVec // reason

	dialects [maxDialects]dialectMetrics
}

// dialectMetrics are one dialect's children.
type dialectMetrics struct {
	connections prometheus.Gauge
	join        prometheus.Observer
	received    prometheus.Counter
	delivered   prometheus.Counter
}

// Admission results, the admissions_total result label.
var admissionResults = [...]string{
	dialect.BadRoomID:    "bad_request",
	dialect.Unauthorized: "unauthorized",
	dialect.Forbidden:    "forbidden",
	dialect.Unavailable:  "unavailable",
	dialect.NotWebSocket: "bad_request",
}

func newMetrics(reg prometheus.Registerer, reconnects func() float64) *metrics {
	connections := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "switchboard_gateway_connections", Help: "Open client connections, by dialect.",
	}, []string{"dialect"})
	join := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_gateway_join_duration_seconds",
		Help:    "From a connection's request to its welcome queued, by dialect.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"dialect"})
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_gateway_signals_received_total", Help: "Signals accepted from clients, by dialect.",
	}, []string{"dialect"})
	delivered := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_gateway_signals_delivered_total", Help: "Signal frames queued to clients, by the receiver's dialect.",
	}, []string{"dialect"})
	m := &metrics{
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_gateway_rooms", Help: "Rooms with at least one connection on this gateway.",
		}),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_gateway_admissions_total", Help: "Connection attempts, by dialect and result.",
		}, []string{"dialect", "result"}),
		signalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_gateway_signal_errors_total", Help: "Client frames refused with an error packet, by code.",
		}, []string{"code"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_gateway_disconnects_total", Help: "Connections ended, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(connections, join, received, delivered, m.rooms, m.admissions, m.signalErrors, m.disconnects,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_gateway_nats_reconnects_total", Help: "Times the gateway's NATS connection reconnected.",
		}, reconnects))
	for i, d := range dialects {
		n := d.Name()
		m.dialects[i] = dialectMetrics{
			connections: connections.WithLabelValues(n),
			join:        join.WithLabelValues(n),
			received:    received.WithLabelValues(n),
			delivered:   delivered.WithLabelValues(n),
		}
		// Every series of a fixed label set exists from the start, at
		// zero, so that rates and alerts work before the first event.
		for _, r := range []string{"ok", "bad_request", "unauthorized", "forbidden", "unavailable"} {
			m.admissions.WithLabelValues(n, r)
		}
	}
	for _, code := range []string{dialect.CodeBadRequest, dialect.CodeTooLarge, dialect.CodeRateLimited, dialect.CodeUnknownTarget} {
		m.signalErrors.WithLabelValues(code)
	}
	for _, r := range hangups {
		m.disconnects.WithLabelValues(r)
	}
	return m
}

// hangups are the values of disconnects_total's reason label.
var hangups = []string{"closed", "slow_consumer", "rate_limited", "too_large", "kicked", "shutdown", "ping_timeout", "error"}

// hangup names why a connection ended, for disconnects_total, from the
// close reason the gateway gave it.
func hangup(reason string) string {
	switch reason {
	case "":
		return "closed"
	case reasonSlowConsumer, reasonWriteTimedOut:
		return "slow_consumer"
	case reasonRateLimit:
		return "rate_limited"
	case reasonTooBig:
		return "too_large"
	case reasonKicked:
		return "kicked"
	case reasonShutdown:
		return "shutdown"
	case reasonNoPong:
		return "ping_timeout"
	}
	return "error"
}

// Close reasons the gateway sends.
const (
	reasonSlowConsumer  = "slow consumer"
	reasonWriteTimedOut = "write timed out"
	reasonWriteFailed   = "write failed"
	reasonRateLimit     = "rate limit exceeded"
	reasonTooBig        = "message too big"
	reasonKicked        = "removed from the room"
	reasonShutdown      = "server going away"
	reasonNoPong        = "no answer to ping"
	reasonPresenceLost  = "presence lost, reconnect"
	reasonInternal      = "internal error"
	reasonNoPresence    = "presence unavailable"
)
