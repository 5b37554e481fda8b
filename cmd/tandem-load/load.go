package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-outreach/tandem/sync/client"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// run is the whole tool: check the options, prepare accounts, load the
// server and return the report (nil after --setup-only).
func run(ctx context.Context, opt options, log io.Writer) (*report, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	var acc *accounts
	var err error
	if opt.Setup {
		acc, err = setup(ctx, opt, hc, log)
	} else {
		acc, err = loadAccounts(opt.Accounts)
	}
	if err != nil {
		return nil, err
	}
	if opt.SetupOnly {
		return nil, nil
	}
	fmt.Fprintf(log, "signing in %d load users…\n", opt.Devices)
	tokens, err := login(ctx, hc, opt.URL, acc, opt.Devices)
	if err != nil {
		return nil, err
	}

	dir := opt.StoreDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "tandem-load-*"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}

	rec := &recorder{errors: map[string]int{}}
	base := &http.Transport{MaxIdleConns: opt.Devices * 2, MaxIdleConnsPerHost: opt.Devices * 2, IdleConnTimeout: time.Minute}
	defer base.CloseIdleConnections()
	timed := &timing{base: base, rec: rec}

	mem := &memSampler{pid: opt.PID}
	memCtx, stopMem := context.WithCancel(ctx)
	go mem.run(memCtx)

	fmt.Fprintf(log, "%d devices syncing for %v (rounds %d, %d encounters a push)…\n", opt.Devices, opt.Duration, opt.Rounds, opt.Batch)
	start := time.Now()
	deadline := start.Add(opt.Duration)
	if opt.Duration <= 0 {
		deadline = start.Add(24 * time.Hour)
	}
	var wg sync.WaitGroup
	for i := 0; i < opt.Devices; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec.fail(runDevice(ctx, opt, i, acc.Users[i].Team, tokens[i], dir, timed, rec, deadline))
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopMem()
	return rec.report(opt, elapsed, mem), nil
}

// runDevice is one tablet: record, push, pull, until the deadline or the
// round count; then a last clean sync must leave its queue empty.
func runDevice(ctx context.Context, opt options, i int, team, token, dir string, rt http.RoundTripper, rec *recorder, deadline time.Time) error {
	var lose atomic.Bool
	lose.Store(opt.Lose > 0)
	lossy := &client.LossyTransport{Base: rt, Drop: func(*http.Request) bool { return lose.Load() && rand.Float64() < opt.Lose }}
	c, err := client.New(client.Config{
		BaseURL: opt.URL, Token: token, StorePath: filepath.Join(dir, fmt.Sprintf("device-%05d.db", i)),
		HTTPClient: &http.Client{Transport: lossy, Timeout: 2 * time.Minute}, AppVersion: "tandem-load",
		BatchSize: opt.Batch,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	for round := 0; opt.Rounds <= 0 || round < opt.Rounds; round++ {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		for k := 0; k < opt.Batch; k++ {
			if _, err := c.Create(ctx, "encounters", map[string]any{
				"team": team, "occurred_at": time.Now().UTC().Format("2006-01-02 15:04:05.000Z"), "encounter_type": "outreach",
				"disposition": "no_action", "general_notes": fmt.Sprintf("load device %d round %d #%d", i, round, k),
			}); err != nil {
				return err
			}
		}
		rctx := context.WithValue(ctx, roundKey{}, round)
		push, err := c.Push(rctx)
		rec.pushed(push)
		rec.fail(err)
		_, err = c.Pull(rctx)
		rec.fail(err)
		rec.rounds.Add(1)
		if opt.Think > 0 {
			time.Sleep(opt.Think)
		}
	}
	// Drain: nothing recorded may stay behind.
	lose.Store(false)
	push, err := c.Push(context.WithoutCancel(ctx))
	rec.pushed(push)
	if err != nil {
		return err
	}
	if q, err := c.Queue(ctx); err != nil || len(q) > 0 {
		return fmt.Errorf("queue_not_drained: %d changes left (%v)", len(q), err)
	}
	return nil
}

// roundKey marks a request's context with the device's round (0 first).
type roundKey struct{}

// openingRound reports whether req belongs to a device's first round: every
// device starts at once, so those requests meet the whole crowd together.
func openingRound(req *http.Request) bool {
	round, ok := req.Context().Value(roundKey{}).(int)
	return ok && round == 0
}

// timing measures each sync request's round trip, by endpoint.
type timing struct {
	base http.RoundTripper
	rec  *recorder
}

func (t *timing) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	res, err := t.base.RoundTrip(req)
	if err == nil {
		// The answer's body is part of the latency a device feels.
		res.Body = &timedBody{ReadCloser: res.Body, done: func() {
			t.rec.latency(req.URL.Path, time.Since(start), openingRound(req))
		}}
	}
	return res, err
}

type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *timedBody) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}

// recorder gathers measurements from every device.
type recorder struct {
	mu      sync.Mutex
	pushLat []time.Duration
	pullLat []time.Duration
	// pushOpening holds the pushes of every device's first round (also in
	// pushLat): they arrive together, so they show the cost of a crowd
	// reconnecting at once apart from the steady rounds after it.
	pushOpening, pushLater []time.Duration
	errors                 map[string]int
	results                client.PushReport
	rounds                 atomic.Int64
	lastError              string
}

func (r *recorder) latency(path string, d time.Duration, opening bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case strings.HasSuffix(path, protocol.PathPush):
		r.pushLat = append(r.pushLat, d)
		if opening {
			r.pushOpening = append(r.pushOpening, d)
		} else {
			r.pushLater = append(r.pushLater, d)
		}
	case strings.HasSuffix(path, protocol.PathPull):
		r.pullLat = append(r.pullLat, d)
	}
}

func (r *recorder) pushed(p client.PushReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results.Batches += p.Batches
	r.results.Applied += p.Applied
	r.results.Merged += p.Merged
	r.results.Conflict += p.Conflict
	r.results.Rejected += p.Rejected
}

// fail classifies and counts an error; answers lost on purpose (--lose)
// are not errors: the next round replays them.
func (r *recorder) fail(err error) {
	if err == nil {
		return
	}
	kind := "other"
	var pe *protocol.Error
	switch {
	case errors.Is(err, client.ErrAnswerLost):
		kind = "answer_lost_on_purpose"
	case strings.Contains(err.Error(), "database is locked"), strings.Contains(err.Error(), "SQLITE_BUSY"):
		kind = "database_is_locked"
	case errors.As(err, &pe):
		kind = fmt.Sprintf("%d %s", pe.Status, pe.Code)
	case strings.Contains(err.Error(), "queue_not_drained"):
		kind = "queue_not_drained"
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(err.Error(), "Timeout"):
		kind = "timeout"
	case strings.Contains(err.Error(), "connection"):
		kind = "connection"
	}
	r.mu.Lock()
	r.errors[kind]++
	if kind != "answer_lost_on_purpose" {
		r.lastError = err.Error()
	}
	r.mu.Unlock()
}
