// Package cli is the operator's command-line client: it mints development
// tokens and speaks the membership and presence endpoints over NATS.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-rtc/switchboard/shared/auth"
	"github.com/switchboard-rtc/switchboard/shared/contract"
	"github.com/switchboard-rtc/switchboard/shared/rpc"
	"github.com/switchboard-rtc/switchboard/shared/subject"
)

// ErrUsage is returned (wrapped) for a command line that does not parse.
var ErrUsage = errors.New("usage")

// Usage describes the subcommands.
const Usage = `usage:
  switchboard [run] [--dev]                 all-in-one: embedded NATS + every service
  switchboard token --user ID [--name N] [--nick N] [--ttl 1h]
  switchboard rooms create ROOM --owner ID [--policy members|open]
  switchboard rooms get ROOM
  switchboard rooms delete ROOM
  switchboard members add ROOM USER [--role member|owner]
  switchboard members remove ROOM USER
  switchboard presence ROOM
  switchboard bench relay|latency|idle|join [--url ws://HOST:PORT[,...]] [flags]
                                            load generator; bench SCENARIO -h lists its flags

environment: SWITCHBOARD_JWT_SECRET (token, bench), SWITCHBOARD_NATS_URL (rooms, members, presence)`

// Env is what a command needs from its surroundings.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
	Now    func() time.Time
}

// Token prints a token and nothing else, so TOKEN=$(switchboard token ...)
// works.
func Token(args []string, env Env) error {
	fs := newFlags("token")
	user := fs.String("user", "", "user id (the token's sub)")
	name := fs.String("name", "", "display name")
	nick := fs.String("nick", "", "nickname")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: token needs --user", ErrUsage)
	}
	if *ttl <= 0 {
		return fmt.Errorf("%w: --ttl must be positive", ErrUsage)
	}
	secret := env.Getenv("SWITCHBOARD_JWT_SECRET")
	if secret == "" {
		return errors.New("SWITCHBOARD_JWT_SECRET is not set")
	}
	tok, err := auth.Mint([]byte(secret), contract.User{ID: *user, Name: *name, Nick: *nick}, *ttl, env.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.Stdout, tok)
	return err
}

// Rooms runs rooms create|get|delete and prints the reply as JSON.
func Rooms(ctx context.Context, nc *nats.Conn, args []string, env Env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: rooms create|get|delete ROOM", ErrUsage)
	}
	fs := newFlags("rooms " + args[0])
	switch args[0] {
	case "create":
		owner := fs.String("owner", "", "owner's user id")
		policy := fs.String("policy", contract.PolicyMembers, "members or open")
		pos, err := parse(fs, args[1:], 1)
		if err != nil {
			return err
		}
		if *owner == "" {
			return fmt.Errorf("%w: rooms create needs --owner", ErrUsage)
		}
		return call(ctx, nc, env, subject.MembershipRoomsCreate, contract.CreateRoomRequest{RoomID: pos[0], OwnerID: *owner, Policy: *policy}, &contract.Room{})
	case "get", "delete":
		pos, err := parse(fs, args[1:], 1)
		if err != nil {
			return err
		}
		subj, rep := subject.MembershipRoomsGet, any(&contract.Room{})
		if args[0] == "delete" {
			subj, rep = subject.MembershipRoomsDelete, &struct{}{}
		}
		return call(ctx, nc, env, subj, contract.RoomRequest{RoomID: pos[0]}, rep)
	}
	return fmt.Errorf("%w: unknown rooms command %q", ErrUsage, args[0])
}

// Members runs members add|remove and prints the room as JSON.
func Members(ctx context.Context, nc *nats.Conn, args []string, env Env) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: members add|remove ROOM USER", ErrUsage)
	}
	fs := newFlags("members " + args[0])
	switch args[0] {
	case "add":
		role := fs.String("role", contract.RoleMember, "member or owner")
		pos, err := parse(fs, args[1:], 2)
		if err != nil {
			return err
		}
		return call(ctx, nc, env, subject.MembershipMembersAdd, contract.MemberRequest{RoomID: pos[0], UserID: pos[1], Role: *role}, &contract.Room{})
	case "remove":
		pos, err := parse(fs, args[1:], 2)
		if err != nil {
			return err
		}
		return call(ctx, nc, env, subject.MembershipMembersRemove, contract.MemberRequest{RoomID: pos[0], UserID: pos[1]}, &contract.Room{})
	}
	return fmt.Errorf("%w: unknown members command %q", ErrUsage, args[0])
}

// Presence lists a room's connections: id, user and gateway.
func Presence(ctx context.Context, nc *nats.Conn, args []string, env Env) error {
	pos, err := parse(newFlags("presence"), args, 1)
	if err != nil {
		return err
	}
	var rep contract.PresenceList
	if err := rpc.Call(ctx, nc, subject.PresenceList, contract.RoomRequest{RoomID: pos[0]}, &rep); err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONNECTION\tUSER\tGATEWAY\tJOINED")
	for _, p := range rep.Participants {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.ConnectionID, p.User.ID, p.GatewayID, p.JoinedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

func call(ctx context.Context, nc *nats.Conn, env Env, subj string, req, rep any) error {
	if err := rpc.Call(ctx, nc, subj, req, rep); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(env.Stdout, string(b))
	return err
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses flags wherever they stand among the arguments and returns
// the positional ones, of which there must be exactly n.
func parse(fs *flag.FlagSet, args []string, n int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUsage, fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != n {
		return nil, fmt.Errorf("%w: %s takes %d argument(s), got %d: %s", ErrUsage, fs.Name(), n, len(pos), strings.Join(pos, " "))
	}
	return pos, nil
}
