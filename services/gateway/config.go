package gateway

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/shared/env"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
)

// Config configures a gateway.
type Config struct {
	HTTPAddr  string // SWITCHBOARD_HTTP_ADDR
	NATSURL   string // SWITCHBOARD_NATS_URL
	JWTSecret []byte // SWITCHBOARD_JWT_SECRET
	GatewayID string // SWITCHBOARD_GATEWAY_ID; random when empty

	// Per-connection limits. Zero means the default; a negative value
	// turns the limit off (the environment's 0).
	RatePerSecond  float64 // SWITCHBOARD_MAX_FRAMES_PER_SECOND, client frames, default 100
	RateBurst      int     // frames in a burst, default twice the rate
	BytesPerSecond float64 // SWITCHBOARD_MAX_BYTES_PER_SECOND, client frame bytes, default 1 MiB, bursts of twice that

	// Metrics is where the gateway registers its Prometheus series; nil
	// keeps them in a registry of its own, unexposed.
	Metrics prometheus.Registerer

	// Tuning, not read from the environment; zero means the default.
	AuthorizeTimeout  time.Duration // membership.authorize, default 2s
	JoinTimeout       time.Duration // presence.join, default 5s
	PingInterval      time.Duration // WebSocket pings to find dead clients, default 30s
	ResyncInterval    time.Duration // rooms are checked against presence this often, default 30s
	HeartbeatInterval time.Duration // presence lease renewal, default 2s
	SendQueueBytes    int           // bytes of frames queued per connection, default 1 MiB
	WriteTimeout      time.Duration // one frame write, and a ping's answer, default 10s
	CloseSpread       time.Duration // shutdown spreads 1001 closes over this, default 2s
}

// Defaults for Config.
const (
	DefaultHTTPAddr       = ":8080"
	DefaultRatePerSecond  = 100
	DefaultBytesPerSecond = 1 << 20
)

// LoadConfig reads the gateway's configuration from the environment.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		HTTPAddr:  getenv("SWITCHBOARD_HTTP_ADDR"),
		JWTSecret: []byte(getenv("SWITCHBOARD_JWT_SECRET")),
		GatewayID: getenv("SWITCHBOARD_GATEWAY_ID"),
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	url, err := env.NATS(getenv)
	c.NATSURL = url
	return c, errors.Join(err, c.LoadLimits(getenv), c.validate())
}

// LoadLimits reads the per-connection limits from the environment into c;
// the all-in-one uses it too.
func (c *Config) LoadLimits(getenv func(string) string) error {
	var errs [2]error
	c.RatePerSecond, errs[0] = limit(getenv, "SWITCHBOARD_MAX_FRAMES_PER_SECOND")
	c.BytesPerSecond, errs[1] = limit(getenv, "SWITCHBOARD_MAX_BYTES_PER_SECOND")
	return errors.Join(errs[:]...)
}

// limit reads a per-second limit: unset is the default (0), "0" is off (-1).
func limit(getenv func(string) string, name string) (float64, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("%s %q: want a number of at least 0 (0 turns the limit off)", name, v)
	}
	if n == 0 {
		return -1, nil
	}
	return n, nil
}

func (c *Config) validate() error {
	var errs []error
	if len(c.JWTSecret) == 0 {
		errs = append(errs, errors.New("SWITCHBOARD_JWT_SECRET is not set: the gateway needs an HS256 key to check client tokens"))
	}
	if c.GatewayID != "" && !roomid.Valid(c.GatewayID) {
		errs = append(errs, fmt.Errorf("SWITCHBOARD_GATEWAY_ID %q: want 1 to 128 characters of A-Z a-z 0-9 _ -", c.GatewayID))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AuthorizeTimeout, 2*time.Second)
	def(&c.JoinTimeout, 5*time.Second)
	def(&c.PingInterval, 30*time.Second)
	def(&c.ResyncInterval, 30*time.Second)
	def(&c.HeartbeatInterval, 2*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.CloseSpread, 2*time.Second)
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = 1 << 20
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.RateBurst <= 0 {
		// Also the number of refusals in a row that closes a flooding
		// client, so it must stay positive when the frame limit is off.
		c.RateBurst = 2 * DefaultRatePerSecond
		if c.RatePerSecond > 0 {
			c.RateBurst = int(max(min(2*c.RatePerSecond, 1<<30), 1))
		}
	}
	if c.BytesPerSecond == 0 {
		c.BytesPerSecond = DefaultBytesPerSecond
	}
}

// tick is how often the gateway's sweeper looks for connections to ping
// and writes that are stuck.
func (c *Config) tick() time.Duration {
	return max(min(time.Second, c.PingInterval/2, c.WriteTimeout/2), 10*time.Millisecond)
}
