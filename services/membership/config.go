package membership

import (
	"errors"
	"fmt"
	"strconv"
)

// Environment variables read by LoadConfig.
const (
	EnvNATSURL   = "SWITCHBOARD_NATS_URL"
	EnvOpenRooms = "SWITCHBOARD_OPEN_ROOMS"
)

// DefaultNATSURL is where the service connects when SWITCHBOARD_NATS_URL is
// unset.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// ErrBadConfig is returned (wrapped, naming the variable) by LoadConfig for
// a value it cannot use.
var ErrBadConfig = errors.New("bad configuration")

// Config configures the membership service.
type Config struct {
	// NATSURL is the NATS server (or comma-separated list of servers) to
	// connect to.
	NATSURL string
	// OpenRooms lets any authenticated user into a room that does not exist.
	OpenRooms bool
}

// LoadConfig reads the configuration from the environment through getenv
// (os.Getenv in production): SWITCHBOARD_NATS_URL (default
// nats://127.0.0.1:4222) and SWITCHBOARD_OPEN_ROOMS (default false; true,
// false, 1, 0 and the other spellings strconv.ParseBool accepts).
func LoadConfig(getenv func(string) string) (Config, error) {
	cfg := Config{NATSURL: getenv(EnvNATSURL)}
	if cfg.NATSURL == "" {
		cfg.NATSURL = DefaultNATSURL
	}
	if v := getenv(EnvOpenRooms); v != "" {
		open, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%w: %s=%q: want true or false", ErrBadConfig, EnvOpenRooms, v)
		}
		cfg.OpenRooms = open
	}
	return cfg, nil
}
