package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// PushReport counts the answers of one Push.
type PushReport struct {
	Batches  int
	Applied  int
	Merged   int
	Conflict int
	Rejected int
}

// Push sends the queue to the server, oldest first, in batches, until it
// is empty. Each answered mutation leaves the queue and its result is kept
// (see Results and Rejected). On an error (network, lost answer, server
// refusal) the unanswered mutations stay queued: calling Push again resends
// them with the same mutation ids, which the server answers with the
// original results.
func (c *Client) Push(ctx context.Context) (PushReport, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var rep PushReport
	for {
		batch, err := c.nextBatch(ctx)
		if err != nil || len(batch) == 0 {
			return rep, err
		}
		var res protocol.PushResponse
		if err := c.post(ctx, protocol.PathPush, protocol.PushRequest{Mutations: batch}, &res); err != nil {
			return rep, err
		}
		if len(res.Results) != len(batch) {
			return rep, fmt.Errorf("client: push of %d mutations got %d results; queue kept, retry", len(batch), len(res.Results))
		}
		for i := range batch {
			if res.Results[i].MutationID != batch[i].MutationID {
				return rep, fmt.Errorf("client: result %d is for mutation %s, expected %s; queue kept, retry", i, res.Results[i].MutationID, batch[i].MutationID)
			}
		}
		if err := c.storeResults(ctx, batch, res.Results); err != nil {
			return rep, err
		}
		rep.Batches++
		for _, r := range res.Results {
			switch r.Status {
			case protocol.ResultApplied:
				rep.Applied++
			case protocol.ResultMerged:
				rep.Merged++
			case protocol.ResultConflict:
				rep.Conflict++
			default:
				rep.Rejected++
			}
		}
	}
}

// nextBatch reads the oldest queued mutations, within the batch limits.
func (c *Client) nextBatch(ctx context.Context) ([]protocol.Mutation, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT body FROM queue ORDER BY pos LIMIT ?`, c.cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var batch []protocol.Mutation
	size := 0
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		// A batch always holds at least one mutation, however large: the
		// server answers an oversized one with its own rejection.
		if len(batch) > 0 && size+len(body) > c.cfg.BatchBytes {
			break
		}
		var m protocol.Mutation
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			return nil, fmt.Errorf("client: queued mutation is corrupt: %w", err)
		}
		batch = append(batch, m)
		size += len(body)
	}
	return batch, rows.Err()
}

// storeResults keeps each answer and removes the answered mutations from
// the queue, in one local transaction. Merged and conflicting answers are
// not laid over the local copy: they differ from what was sent, and the
// next pull brings the server's record. A bed hold's decision (Record) also
// arrives by pull; the app can show it from Results at once.
func (c *Client) storeResults(ctx context.Context, batch []protocol.Mutation, results []protocol.MutationResult) error {
	return inTx(ctx, c.db, func(sqlTx *sql.Tx) error {
		tx := newPreparedTx(sqlTx)
		defer tx.close()
		pulled, err := c.pulledThrough(ctx, tx)
		if err != nil {
			return err
		}
		now := c.now()
		for i, m := range batch {
			r := results[i]
			resJSON, _ := json.Marshal(r)
			mJSON, _ := json.Marshal(m)
			// An applied change stays laid over the local copy until a pull
			// brings the record back at or after its version. A late
			// replay may find the pull already past it: the copy holds it,
			// or the record was deleted or left this user's scope.
			awaiting := false
			if r.Status == protocol.ResultApplied && r.Version > pulled {
				seq, _, err := serverCopy(ctx, tx, m.Collection, m.RecordID)
				if err != nil {
					return err
				}
				awaiting = r.Version > seq
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO results (mutation_id, collection, record_id, op, status, result, mutation, answered_at, version, awaiting)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mutation_id) DO NOTHING`,
				m.MutationID, m.Collection, m.RecordID, m.Op, r.Status, string(resJSON), string(mJSON), now, r.Version, awaiting); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM queue WHERE mutation_id = ?`, m.MutationID); err != nil {
				return err
			}
		}
		return nil
	})
}

// Result is the server's answer to one mutation, as kept on the device.
type Result struct {
	Mutation protocol.Mutation
	Result   protocol.MutationResult
	// AnsweredAt is the device clock when the answer arrived (display only).
	AnsweredAt string
}

// Results returns every kept answer, optionally only those with the given
// status (for example protocol.ResultConflict).
func (c *Client) Results(ctx context.Context, status string) ([]Result, error) {
	q := `SELECT mutation, result, answered_at FROM results`
	var args []any
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, status)
	}
	rows, err := c.db.QueryContext(ctx, q+` ORDER BY rowid`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Result
	for rows.Next() {
		var m, r string
		var res Result
		if err := rows.Scan(&m, &r, &res.AnsweredAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(m), &res.Mutation); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(r), &res.Result); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, rows.Err()
}

// Rejected returns the changes the server refused, with its reasons: the
// app lists them so the worker can fix and re-enter them. They stay until
// DismissRejected.
func (c *Client) Rejected(ctx context.Context) ([]Result, error) {
	return c.Results(ctx, protocol.ResultRejected)
}

// DismissRejected forgets a rejected change the worker has dealt with.
func (c *Client) DismissRejected(ctx context.Context, mutationID string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM results WHERE mutation_id = ? AND status = ?`, mutationID, protocol.ResultRejected)
	return err
}
