package membership

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/shared/env"
)

// Config configures the membership service.
type Config struct {
	// NATSURL is the NATS server (or comma-separated list of servers) to
	// connect to.
	NATSURL string
	// OpenRooms lets any authenticated user into a room that does not exist.
	OpenRooms bool
	// Metrics is where the service registers its Prometheus series; nil:
	// a registry of its own, unexposed.
	Metrics prometheus.Registerer
}

// LoadConfig reads the configuration from the environment through getenv
// (os.Getenv in production): SWITCHBOARD_NATS_URL (default
// nats://127.0.0.1:4222) and SWITCHBOARD_OPEN_ROOMS (default false; true,
// false, 1, 0 and the other spellings strconv.ParseBool accepts).
func LoadConfig(getenv func(string) string) (Config, error) {
	url, err := env.NATS(getenv)
	if err != nil {
		return Config{}, err
	}
	open, err := env.Bool(getenv, env.OpenRooms, false)
	if err != nil {
		return Config{}, err
	}
	return Config{NATSURL: url, OpenRooms: open}, nil
}
