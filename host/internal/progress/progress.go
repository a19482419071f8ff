// Package progress draws one tidy status line for long-running stages on
// a terminal, and stays quiet when the output is not one (logs, pipes, CI),
// where only stage boundaries are printed.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Line is a status line that rewrites itself in place.
type Line struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	last  time.Time
	width int
}

// New returns a line writing to w; it animates only when w is a terminal.
func New(w io.Writer) *Line {
	return &Line{w: w, tty: IsTerminal(w)}
}

// IsTerminal reports whether w is a character device.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update redraws the line, at most ten times a second.
func (l *Line) Update(format string, args ...any) {
	if !l.tty {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.last) < 100*time.Millisecond {
		return
	}
	l.last = time.Now()
	s := fmt.Sprintf(format, args...)
	pad := ""
	if n := l.width - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	l.width = len(s)
	fmt.Fprintf(l.w, "\r%s%s", s, pad)
}

// Done ends the status line with a permanent message, printed whether or
// not w is a terminal.
func (l *Line) Done(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	if l.tty && l.width > 0 {
		pad := ""
		if n := l.width - len(s); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(l.w, "\r%s%s\n", s, pad)
	} else {
		fmt.Fprintln(l.w, s)
	}
	l.width = 0
}

// ETA formats the remaining time for done of total at rate per second.
func ETA(done, total int, rate float64) string {
	if rate <= 0 || done >= total {
		return "-"
	}
	d := time.Duration(float64(total-done) / rate * float64(time.Second))
	return d.Round(time.Second).String()
}
