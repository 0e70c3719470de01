package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-rtc/switchboard/shared/contract"
)

var secret = []byte("test-secret")

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	v, err := NewVerifier(secret)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	good, err := Mint(secret, contract.User{ID: "alice", Name: "Alice", Nick: "al"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u, err := v.Verify(good)
	if err != nil || u != (contract.User{ID: "alice", Name: "Alice", Nick: "al"}) {
		t.Fatalf("Verify(minted) = %+v, %v", u, err)
	}

	alt := sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "bob", "exp": exp, "preferred_username": "Bob", "nickname": "b"})
	if u, err := v.Verify(alt); err != nil || u.Name != "Bob" || u.Nick != "b" {
		t.Fatalf("fallback claims: %+v, %v", u, err)
	}

	refused := map[string]string{
		"missing":       "",
		"malformed":     "not.a.jwt",
		"bad signature": sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"sub": "a", "exp": exp}),
		"expired":       sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "a", "exp": time.Now().Add(-time.Hour).Unix()}),
		"no exp":        sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "a"}),
		"no sub":        sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"exp": exp}),
		"alg none":      sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "a", "exp": exp}),
		"HS512":         sign(t, jwt.SigningMethodHS512, secret, jwt.MapClaims{"sub": "a", "exp": exp}),
	}
	for name, tok := range refused {
		t.Run(name, func(t *testing.T) {
			if _, err := v.Verify(tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestNoSecret(t *testing.T) {
	if _, err := NewVerifier(nil); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("NewVerifier(nil) = %v", err)
	}
	if _, err := Mint(nil, contract.User{ID: "a"}, time.Hour, time.Now()); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("Mint(nil) = %v", err)
	}
}
