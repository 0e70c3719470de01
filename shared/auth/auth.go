// Package auth mints and verifies the HS256 JSON Web Tokens that clients
// present to a gateway.
//
// The algorithm is pinned to HS256: a token signed any other way, including
// alg "none", is refused. sub and exp are required. A Verifier is safe for
// concurrent use.
package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

// ErrNoSecret is returned when a signing key is empty.
var ErrNoSecret = errors.New("auth: empty HS256 secret")

// ErrInvalidToken wraps every reason a token is refused: missing, malformed,
// badly signed, expired, wrong algorithm, no sub or no exp.
var ErrInvalidToken = errors.New("auth: invalid token")

// Claims are the token fields Switchboard reads. name falls back to
// preferred_username and nick to nickname.
type Claims struct {
	jwt.RegisteredClaims
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	Nick              string `json:"nick,omitempty"`
	Nickname          string `json:"nickname,omitempty"`
}

// User returns the user the claims describe.
func (c *Claims) User() contract.User {
	u := contract.User{ID: c.Subject, Name: c.Name, Nick: c.Nick}
	if u.Name == "" {
		u.Name = c.PreferredUsername
	}
	if u.Nick == "" {
		u.Nick = c.Nickname
	}
	return u
}

// Mint returns a token for u, valid for ttl from now.
func Mint(secret []byte, u contract.User, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", ErrNoSecret
	}
	if u.ID == "" {
		return "", errors.New("auth: a token needs a user id")
	}
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name: u.Name,
		Nick: u.Nick,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// Verifier checks tokens against one HS256 secret.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for secret.
func NewVerifier(secret []byte) (*Verifier, error) {
	if len(secret) == 0 {
		return nil, ErrNoSecret
	}
	return &Verifier{
		secret: secret,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(5*time.Second),
		),
	}, nil
}

// Verify parses token and returns its user. Every failure wraps
// ErrInvalidToken.
func (v *Verifier) Verify(token string) (contract.User, error) {
	if token == "" {
		return contract.User{}, fmt.Errorf("%w: missing", ErrInvalidToken)
	}
	var c Claims
	_, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return contract.User{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return contract.User{}, fmt.Errorf("%w: no sub", ErrInvalidToken)
	}
	return c.User(), nil
}
