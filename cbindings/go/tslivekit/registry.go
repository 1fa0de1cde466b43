package tslivekit

import (
	"fmt"
	"sync"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// defaults is the process's default registry: made at first use, or set by
// the host.
var defaults struct {
	mu  sync.Mutex
	reg *trackstats.Registry
}

// DefaultRegistry is the registry that stats objects made without
// WithRegistry open their tracks in. The first call makes it, with the
// default 5 s windows and one dispatcher goroutine that calls every
// listener (trackstats.WithDispatcher); an error (the library could not
// start its sampler thread) is returned and the next call tries again.
func DefaultRegistry() (*trackstats.Registry, error) {
	defaults.mu.Lock()
	defer defaults.mu.Unlock()
	if defaults.reg == nil {
		r, err := trackstats.NewRegistry(trackstats.WithDispatcher())
		if err != nil {
			return nil, err
		}
		defaults.reg = r
	}
	return defaults.reg, nil
}

// SetDefaultRegistry makes r the default registry for stats objects made
// from now on (nil: the next one makes a new default). Stats objects made
// earlier keep theirs. Set it at start, before the first stats object, to
// choose the window or the delivery (a registry in pull mode delivers to the
// listeners when the host calls Drain). The caller owns r and any default it
// replaces, and closes them at shutdown if it wants the last reports.
func SetDefaultRegistry(r *trackstats.Registry) {
	defaults.mu.Lock()
	defaults.reg = r
	defaults.mu.Unlock()
}

type config struct {
	reg      *trackstats.Registry
	dropLate bool
	// err is a bad option's: the object counts nothing and Err says why.
	err error
}

// Option configures a stats object.
type Option func(*config)

// WithRegistry opens the object's tracks in r rather than the default
// registry. A nil r is a mistake (a registry that failed to open), not a
// request for the default: the object counts nothing and its Err wraps
// trackstats.ErrNilRegistry.
func WithRegistry(r *trackstats.Registry) Option {
	return func(c *config) {
		if r == nil {
			c.err = fmt.Errorf("tslivekit: WithRegistry(nil): %w", trackstats.ErrNilRegistry)
		}
		c.reg = r
	}
}

// DropAfterStop is LiveKit's behaviour for bytes added after Stop: they are
// counted in GetTrafficTotals but never reach the listener, and the listener
// is not called for the stopped key once Wait has returned. Without it,
// trackstats reports them, one stat per window, after the final one (the
// report is flagged late in the library).
func DropAfterStop() Option { return func(c *config) { c.dropLate = true } }
