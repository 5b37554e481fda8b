package client

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// schemaSQL creates the local store. Records are kept as JSON text: the
// reference client does not need columns per field, and a schema change on
// the server then needs no local migration.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
	collection TEXT NOT NULL,
	id         TEXT NOT NULL,
	seq        INTEGER NOT NULL,  -- server version as last pulled; 0 = not pulled yet
	data       TEXT NOT NULL,     -- JSON object of the visible fields
	PRIMARY KEY (collection, id)
);
CREATE TABLE IF NOT EXISTS queue (
	pos         INTEGER PRIMARY KEY AUTOINCREMENT, -- order the worker made the changes
	mutation_id TEXT NOT NULL UNIQUE,
	collection  TEXT NOT NULL,
	record_id   TEXT NOT NULL,
	op          TEXT NOT NULL,
	body        TEXT NOT NULL,     -- the protocol.Mutation as sent
	queued_at   TEXT NOT NULL      -- device clock, for display only
);
CREATE INDEX IF NOT EXISTS queue_record ON queue (collection, record_id);
CREATE TABLE IF NOT EXISTS results (
	mutation_id TEXT PRIMARY KEY,
	collection  TEXT NOT NULL,
	record_id   TEXT NOT NULL,
	op          TEXT NOT NULL,
	status      TEXT NOT NULL,     -- applied, merged, conflict, rejected
	result      TEXT NOT NULL,     -- the protocol.MutationResult
	mutation    TEXT NOT NULL,     -- the protocol.Mutation, so a rejected change can be fixed and re-sent
	answered_at TEXT NOT NULL,     -- device clock, for display only
	version     INTEGER NOT NULL DEFAULT 0, -- the record's server version after it
	-- awaiting: 1 for an applied change the pull has not brought back yet;
	-- it stays laid over the local copy until the cursor passes version.
	awaiting    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS results_status ON results (status);
CREATE INDEX IF NOT EXISTS results_awaiting ON results (collection, record_id) WHERE awaiting = 1;
`

// Meta keys.
const (
	metaDevice     = "device_id"
	metaCursor     = "cursor"
	metaServerTime = "server_time"
)

// openStore opens (or creates) the SQLite file at path.
func openStore(path string) (*sql.DB, error) {
	// WAL keeps reads cheap during a long pull; busy_timeout covers the app
	// reading while a sync writes.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("client: open %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and one connection
	// makes "database is locked" impossible inside this process.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schemaSQL); err != nil {
		db.Close()
		return nil, fmt.Errorf("client: create local tables in %s: %w", path, err)
	}
	return db, nil
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getMeta(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func setMeta(ctx context.Context, q querier, key, value string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// inTx runs fn in one local transaction.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// preparedTx runs statements in tx, preparing each distinct one once: a
// batch of a thousand results then costs a thousand executions, not a
// thousand SQL parses.
type preparedTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func newPreparedTx(tx *sql.Tx) *preparedTx { return &preparedTx{tx: tx, stmts: map[string]*sql.Stmt{}} }

func (p *preparedTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	st, err := p.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.stmts[query] = st
	return st, nil
}

func (p *preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (p *preparedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p *preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.stmt(ctx, query)
	if err != nil {
		// Let Scan report the error, as *sql.Tx does.
		return p.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close releases the prepared statements (before commit or rollback).
func (p *preparedTx) close() {
	for _, st := range p.stmts {
		st.Close()
	}
}
