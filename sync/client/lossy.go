package client

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// ErrAnswerLost is what LossyTransport returns in place of an answer it
// dropped.
var ErrAnswerLost = errors.New("client: answer lost on the way back (simulated)")

// LossyTransport is an http.RoundTripper that delivers every request to
// the server but may throw the answer away after the server has processed
// it, the way a tablet loses its connection in a stairwell. Tests and the
// load tool use it to prove replays are harmless.
type LossyTransport struct {
	// Base sends the requests (default http.DefaultTransport).
	Base http.RoundTripper
	// Drop decides, per request, whether to lose its answer.
	Drop func(*http.Request) bool

	mu      sync.Mutex
	dropped int
}

// RoundTrip sends req and, when Drop says so, reads the whole answer (so
// the server has finished) and returns ErrAnswerLost instead.
func (t *LossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil || t.Drop == nil || !t.Drop(req) {
		return res, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	t.mu.Lock()
	t.dropped++
	t.mu.Unlock()
	return nil, ErrAnswerLost
}

// Dropped counts the answers lost so far.
func (t *LossyTransport) Dropped() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}
