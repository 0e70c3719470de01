package roomid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"r1", true},
		{"Room_1-a", true},
		{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", true},
		{strings.Repeat("a", 128), true},
		{"", false},
		{strings.Repeat("a", 129), false},
		{"a.b", false},
		{"*", false},
		{">", false},
		{"a>", false},
		{"a b", false},
		{"a\x00", false},
		{"é", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.id); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.id, got, tt.want)
		}
		if err := Check(tt.id); (err == nil) != tt.want {
			t.Errorf("Check(%q) = %v, want valid=%v", tt.id, err, tt.want)
		}
	}
}
