package client

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// PullReport counts what one Pull brought.
type PullReport struct {
	Pages   int
	Upserts int
	Deletes int
	Evicts  int
	// Resets counts reset or rescope answers: the pulled records were
	// dropped (the queue kept) and the pull started again.
	Resets int
}

// maxResetsPerPull stops a server that answers "reset" forever.
const maxResetsPerPull = 3

// Pull fetches pages of changes after the stored cursor until the server
// has no more. Each page is applied and its cursor stored in one local
// transaction: a pull cut short resumes from the last stored page.
func (c *Client) Pull(ctx context.Context) (PullReport, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	var rep PullReport
	for {
		cursor, err := getMeta(ctx, c.db, metaCursor)
		if err != nil {
			return rep, err
		}
		var page protocol.PullResponse
		req := protocol.PullRequest{Cursor: cursor, Limit: c.cfg.PullLimit, MaxBytes: c.cfg.PullMaxBytes}
		if err := c.post(ctx, protocol.PathPull, req, &page); err != nil {
			if pe, ok := ProtocolError(err); ok && pe.Code == protocol.CodeBadCursor && cursor != "" {
				// The server no longer knows this cursor: same as a reset.
				if rep.Resets++; rep.Resets > maxResetsPerPull {
					return rep, err
				}
				if err := c.dropPulled(ctx); err != nil {
					return rep, err
				}
				continue
			}
			return rep, err
		}
		rep.Pages++
		switch page.Status {
		case protocol.StatusOK:
		case protocol.StatusReset, protocol.StatusRescope:
			if rep.Resets++; rep.Resets > maxResetsPerPull {
				return rep, fmt.Errorf("client: the server answered %q %d times in one pull: %s", page.Status, rep.Resets, page.Reason)
			}
			if err := c.dropPulled(ctx); err != nil {
				return rep, err
			}
			continue
		default:
			return rep, fmt.Errorf("client: unknown pull status %q; update the app", page.Status)
		}
		if err := c.applyPage(ctx, &page, &rep); err != nil {
			return rep, err
		}
		if !page.HasMore {
			return rep, nil
		}
	}
}

// applyPage stores one page of changes and its cursor together.
func (c *Client) applyPage(ctx context.Context, page *protocol.PullResponse, rep *PullReport) error {
	return inTx(ctx, c.db, func(sqlTx *sql.Tx) error {
		tx := newPreparedTx(sqlTx)
		defer tx.close()
		for _, ch := range page.Changes {
			// The change carries the record's state at or after ch.Seq:
			// applied changes up to it are in it now (or gone with it).
			if _, err := tx.ExecContext(ctx, `UPDATE results SET awaiting = 0 WHERE awaiting = 1 AND collection = ? AND record_id = ? AND version <= ?`,
				ch.Collection, ch.ID, ch.Seq); err != nil {
				return err
			}
			switch ch.Op {
			case protocol.OpUpsert:
				if _, err := tx.ExecContext(ctx, `INSERT INTO records (collection, id, seq, data) VALUES (?, ?, ?, ?)
					ON CONFLICT (collection, id) DO UPDATE SET seq = excluded.seq, data = excluded.data`,
					ch.Collection, ch.ID, ch.Seq, string(ch.Record)); err != nil {
					return err
				}
				rep.Upserts++
			case protocol.OpDelete, protocol.OpEvict:
				if _, err := tx.ExecContext(ctx, `DELETE FROM records WHERE collection = ? AND id = ?`, ch.Collection, ch.ID); err != nil {
					return err
				}
				if ch.Op == protocol.OpDelete {
					rep.Deletes++
				} else {
					rep.Evicts++
				}
			default:
				return fmt.Errorf("client: unknown change op %q for %s/%s; update the app", ch.Op, ch.Collection, ch.ID)
			}
		}
		if err := setMeta(ctx, tx, metaServerTime, page.ServerTime); err != nil {
			return err
		}
		if err := setMeta(ctx, tx, metaCursor, page.Cursor); err != nil {
			return err
		}
		if page.HasMore {
			return nil
		}
		// Caught up: every record this user holds whose feed row is at or
		// before the cursor came in some page; an applied change at or
		// below it that no page carried is no longer this user's. (Before
		// the end of a pull this does not hold: the feed keeps only each
		// record's latest row, so a record changed again later arrives in
		// a later page.)
		through, err := c.pulledThrough(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE results SET awaiting = 0 WHERE awaiting = 1 AND version <= ?`, through)
		return err
	})
}

// dropPulled forgets every pulled record and the cursor, keeping the queue
// and the kept results: the answer to "reset" and "rescope".
func (c *Client) dropPulled(ctx context.Context) error {
	return inTx(ctx, c.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM records`); err != nil {
			return err
		}
		return setMeta(ctx, tx, metaCursor, "")
	})
}

// pulledThrough is the feed position the stored cursor has reached: a
// change with a version at or below it is already in the local copy. It is
// 0 until a pull has stored a cursor.
// (A mobile client that treats the cursor as fully opaque can keep the
// highest Change.Seq it applied instead.)
func (c *Client) pulledThrough(ctx context.Context, q querier) (int64, error) {
	s, err := getMeta(ctx, q, metaCursor)
	if err != nil {
		return 0, err
	}
	cur, err := protocol.ParseCursor(s)
	if err != nil {
		return 0, nil
	}
	return cur.Seq, nil
}
