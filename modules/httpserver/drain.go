package httpserver

import "sync"

// Drain is the signal that the server has begun to shut down: readiness answers
// 503 from then on, and long-lived responses (event streams) should end so that
// clients reconnect to another replica. It exists apart from Server so that
// route constructors can depend on it without a cycle.
type Drain struct {
	once sync.Once
	ch   chan struct{}
}

// NewDrain returns a Drain that has not begun.
func NewDrain() *Drain { return &Drain{ch: make(chan struct{})} }

// Begin starts the drain; it returns true the first time only.
func (d *Drain) Begin() (first bool) {
	d.once.Do(func() { close(d.ch); first = true })
	return first
}

// Done is closed once the drain has begun.
func (d *Drain) Done() <-chan struct{} { return d.ch }

// Draining reports whether the drain has begun.
func (d *Drain) Draining() bool {
	select {
	case <-d.ch:
		return true
	default:
		return false
	}
}
