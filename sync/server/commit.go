package server

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// maxGroupMutations bounds the mutations one shared transaction applies, so
// a group's latency (and the writer lock it holds) stays bounded however
// many tablets push at once: about a tenth of a second of writing. Larger
// groups save little more and make every push in them wait for the last.
const maxGroupMutations = 1000

// committer applies the writes of concurrent sync requests in shared
// transactions (group commit).
//
// SQLite has one writer. When hundreds of tablets sync at once, each push
// and each pull's bookkeeping would otherwise be its own transaction:
// every one prepares its statements again, commits its own WAL frames and
// queues for the writer lock behind all the others. Here the first request
// to arrive becomes the leader and applies everything queued meanwhile in
// one transaction. A request that fails is answered with its error and the
// others are applied again without it (see run). Nobody is answered before
// the transaction that holds their writes has committed.
type committer struct {
	app core.App

	mu    sync.Mutex // guards queue
	queue []*writeJob

	leader sync.Mutex // held by the request applying a group

	groups atomic.Int64 // groups applied (a retried group counts once), for tests
}

// writeJob is one request's writes.
type writeJob struct {
	size  int // mutations, to bound a group
	apply func(tx core.App, st *changefeed.Statements) error
	err   error
	done  bool // set by the leader that applied the job
}

func newCommitter(app core.App) *committer {
	return &committer{app: app}
}

// do applies fn in a shared transaction and returns once that transaction
// has committed (or failed). size is the number of mutations fn applies.
// fn may run more than once (when another request of its group fails, the
// group is applied again): it must build its results afresh on each run.
func (c *committer) do(size int, fn func(tx core.App, st *changefeed.Statements) error) error {
	job := &writeJob{size: max(size, 1), apply: fn}
	c.mu.Lock()
	c.queue = append(c.queue, job)
	c.mu.Unlock()

	c.leader.Lock()
	defer c.leader.Unlock()
	for !job.done {
		group := c.take()
		if len(group) == 0 {
			return errors.New("sync: a write was lost from the commit queue")
		}
		c.run(group)
	}
	return job.err
}

// take removes the oldest queued jobs, up to maxGroupMutations (at least
// one job).
func (c *committer) take() []*writeJob {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, total := 0, 0
	for n < len(c.queue) && (n == 0 || total+c.queue[n].size <= maxGroupMutations) {
		total += c.queue[n].size
		n++
	}
	group := c.queue[:n:n]
	c.queue = append([]*writeJob(nil), c.queue[n:]...)
	return group
}

// run applies a group in one transaction. A request that fails rolls the
// transaction back; it is answered with its error and the rest of the
// group is applied again without it. (A savepoint per request would avoid
// the retry, but SQLite's statement journal then grows with every page the
// request touches and each statement pays for walking it: a large push
// slowed down fourfold. Failures are rare: rejected mutations are results,
// not errors.)
func (c *committer) run(group []*writeJob) {
	c.groups.Add(1)
	for len(group) > 0 {
		failed := -1
		err := c.app.RunInTransaction(func(tx core.App) error {
			st := changefeed.NewStatements(tx.DB())
			defer st.Close()
			for i, job := range group {
				if err := applyJob(tx, st, job); err != nil {
					job.err, failed = err, i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, job := range group {
				job.err, job.done = err, true // nil once committed
			}
			return
		}
		group[failed].done = true
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// applyJob runs one job, turning a panic into its error so the rest of the
// group still commits.
func applyJob(tx core.App, st *changefeed.Statements, job *writeJob) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sync: panic while applying a request: %v", r)
		}
	}()
	return job.apply(tx, st)
}
