package subject

import (
	"errors"
	"testing"

	"github.com/switchboard-rtc/switchboard/shared/roomid"
)

func TestRoomSubjects(t *testing.T) {
	s, err := RoomSignal("r1")
	if err != nil || s != "room.r1.signal" {
		t.Fatalf("RoomSignal(r1) = %q, %v", s, err)
	}
	p, err := RoomPresence("r1")
	if err != nil || p != "room.r1.presence" {
		t.Fatalf("RoomPresence(r1) = %q, %v", p, err)
	}
	for _, bad := range []string{"a.b", "*", ">", "a>", ""} {
		if _, err := RoomSignal(bad); !errors.Is(err, roomid.ErrInvalid) {
			t.Errorf("RoomSignal(%q) err = %v, want ErrInvalid", bad, err)
		}
		if _, err := RoomPresence(bad); !errors.Is(err, roomid.ErrInvalid) {
			t.Errorf("RoomPresence(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}
