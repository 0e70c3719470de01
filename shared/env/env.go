// Package env reads the environment variables that more than one
// Switchboard binary shares, with errors that name the variable.
package env

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Variables read here.
const (
	NATSURL     = "SWITCHBOARD_NATS_URL"
	OpenRooms   = "SWITCHBOARD_OPEN_ROOMS"
	MetricsAddr = "SWITCHBOARD_METRICS_ADDR" // monitoring listener; unset or empty: off
)

// DefaultNATSURL is used when SWITCHBOARD_NATS_URL is unset.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// ErrInvalid is returned (wrapped, naming the variable) for a value that
// cannot be used.
var ErrInvalid = errors.New("invalid value")

// NATS returns SWITCHBOARD_NATS_URL, or the default: a comma-separated list
// of server URLs, each with a host, with or without a scheme (nats.go
// assumes nats://).
func NATS(getenv func(string) string) (string, error) {
	v := getenv(NATSURL)
	if v == "" {
		return DefaultNATSURL, nil
	}
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		s := part
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if part == "" || err != nil || u.Host == "" {
			return "", fmt.Errorf("%w: %s=%q: %q is not a server URL", ErrInvalid, NATSURL, v, part)
		}
	}
	return v, nil
}

// Bool returns the boolean variable name, or def when it is unset.
func Bool(getenv func(string) string, name string, def bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q: want true or false", ErrInvalid, name, v)
	}
	return b, nil
}
