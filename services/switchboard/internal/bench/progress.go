package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal, where a progress line that
// rewrites itself is welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress rewrites one line on a terminal a few times a second until
// stopped. A nil *progress does nothing.
type progress struct {
	w    io.Writer
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex // guards line
	line func() string
}

func startProgress(w io.Writer, line func() string) *progress {
	p := &progress{w: w, stop: make(chan struct{}), done: make(chan struct{}), line: line}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\033[K")
			return
		case <-t.C:
			p.mu.Lock()
			line := p.line
			p.mu.Unlock()
			fmt.Fprintf(p.w, "\r%s\033[K", line())
		}
	}
}

// set changes what the line shows, for the next phase of a run.
func (p *progress) set(line func() string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.line = line
	p.mu.Unlock()
}

// end clears the line and stops; it may be called more than once.
func (p *progress) end() {
	if p == nil {
		return
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}
