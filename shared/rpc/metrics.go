package rpc

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts a service's requests by endpoint and result, and times
// them: switchboard_<service>_requests_total{endpoint,result} and
// switchboard_<service>_request_duration_seconds{endpoint}. Results are
// "ok" or the error code.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers a service's request metrics with reg.
func NewMetrics(reg prometheus.Registerer, service string) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_" + service + "_requests_total",
			Help: "Requests served, by endpoint and result (ok or the error code).",
		}, []string{"endpoint", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_" + service + "_request_duration_seconds",
			Help:    "Time to serve a request, by endpoint.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"endpoint"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Option changes how Handle serves.
type Option func(*handleOptions)

type handleOptions struct {
	metrics  *Metrics
	endpoint string
}

// Measured counts and times the endpoint's requests in m. Its series
// exist from the start (at zero), so that rates work before the first
// request.
func Measured(m *Metrics, endpoint string) Option {
	m.requests.WithLabelValues(endpoint, "ok")
	m.duration.WithLabelValues(endpoint)
	return func(o *handleOptions) { o.metrics, o.endpoint = m, endpoint }
}

func (o *handleOptions) observe(code int, start time.Time) {
	if o.metrics == nil {
		return
	}
	result := "ok"
	if code != 0 {
		result = strconv.Itoa(code)
	}
	o.metrics.requests.WithLabelValues(o.endpoint, result).Inc()
	o.metrics.duration.WithLabelValues(o.endpoint).Observe(time.Since(start).Seconds())
}
