package gateway

import (
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/env"
	"github.com/switchboard-rtc/switchboard/shared/roomid"
)

// Config configures a gateway.
type Config struct {
	HTTPAddr  string // SWITCHBOARD_HTTP_ADDR
	NATSURL   string // SWITCHBOARD_NATS_URL
	JWTSecret []byte // SWITCHBOARD_JWT_SECRET
	GatewayID string // SWITCHBOARD_GATEWAY_ID; random when empty

	// Tuning, not read from the environment; zero means the default.
	AuthorizeTimeout  time.Duration // membership.authorize, default 2s
	JoinTimeout       time.Duration // presence.join, default 5s
	PingInterval      time.Duration // WebSocket pings to find dead clients, default 30s
	ResyncInterval    time.Duration // rooms are checked against presence this often, default 30s
	HeartbeatInterval time.Duration // presence lease renewal, default 2s
	SendQueue         int           // frames queued per connection, default 256
	WriteTimeout      time.Duration // one frame write, default 10s
	CloseSpread       time.Duration // shutdown spreads 1001 closes over this, default 2s
	RatePerSecond     float64       // client frames per second, default 100
	RateBurst         int           // default 200
}

// Defaults for Config.
const (
	DefaultHTTPAddr = ":8080"
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
	return c, errors.Join(err, c.validate())
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
	if c.SendQueue <= 0 {
		c.SendQueue = 256
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = 100
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 200
	}
}
