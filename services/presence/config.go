package presence

import (
	"github.com/prometheus/client_golang/prometheus"

	"errors"
	"fmt"
	"time"

	"github.com/switchboard-rtc/switchboard/shared/env"
)

// Defaults for a zero Config field.
const (
	DefaultLeaseTTL     = 9 * time.Second
	DefaultReapInterval = time.Second
)

// ErrInvalidConfig is returned (wrapped, naming the variable or field) for a
// configuration value that cannot be used.
var ErrInvalidConfig = errors.New("invalid configuration")

// Config is the presence service's configuration. Zero durations mean the
// defaults.
type Config struct {
	// NATSURL is where the binary connects (a comma-separated list for a
	// cluster). Start does not use it: it is given a connection.
	NATSURL string
	// LeaseTTL is how long a lease lives after its last join or heartbeat.
	LeaseTTL time.Duration
	// ReapInterval is how often each instance looks for expired leases.
	ReapInterval time.Duration
	// Metrics is where the service registers its Prometheus series; nil:
	// a registry of its own, unexposed.
	Metrics prometheus.Registerer
}

// LoadConfig reads the configuration from the environment through getenv:
// SWITCHBOARD_NATS_URL (default nats://127.0.0.1:4222).
func LoadConfig(getenv func(string) string) (Config, error) {
	url, err := env.NATS(getenv)
	if err != nil {
		return Config{}, err
	}
	return Config{NATSURL: url}.withDefaults()
}

// withDefaults fills zero durations and refuses negative ones.
func (c Config) withDefaults() (Config, error) {
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.ReapInterval == 0 {
		c.ReapInterval = DefaultReapInterval
	}
	if c.LeaseTTL < 0 {
		return Config{}, fmt.Errorf("%w: LeaseTTL %v is negative", ErrInvalidConfig, c.LeaseTTL)
	}
	if c.ReapInterval < 0 {
		return Config{}, fmt.Errorf("%w: ReapInterval %v is negative", ErrInvalidConfig, c.ReapInterval)
	}
	return c, nil
}
