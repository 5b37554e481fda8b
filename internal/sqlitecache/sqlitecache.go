// Package sqlitecache registers a database/sql driver that is SQLite
// (modernc.org/sqlite) with a cache of compiled statements on each
// connection.
//
// PocketBase, and most of Tandem, run SQL through database/sql without
// preparing it, so the driver compiles every statement again each time it
// runs. Compiling often costs more than running: 0.17 ms for a one-row
// insert into a table with triggers, about seven times the insert itself.
// Under the 500-tablet load test, 15% of the hub's CPU went to compiling
// the same few hundred texts. Each connection here keeps the statements it has
// compiled, by SQL text, and runs them again.
//
// A text is kept only when it is seen a second time: PocketBase writes
// filter values into placeholders with random names, and those one-off
// texts would otherwise push out the ones that repeat. Prepared statements
// (database/sql Prepare) are not cached here; their owner keeps them.
package sqlitecache

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"sync"

	_ "modernc.org/sqlite" // registers "sqlite", which this driver wraps
)

// DriverName is the database/sql name of the caching driver.
const DriverName = "sqlite_cached"

// Capacity is how many compiled statements a connection keeps.
const Capacity = 128

// seenCapacity bounds the texts remembered as seen once.
const seenCapacity = 1024

func init() {
	probe, err := sql.Open("sqlite", ":memory:") // opens nothing yet
	if err != nil {
		panic(err)
	}
	base := probe.Driver()
	_ = probe.Close()
	sql.Register(DriverName, &cachingDriver{base: base})
}

type cachingDriver struct{ base driver.Driver }

// Open opens a SQLite connection (name is the same DSN the "sqlite"
// driver takes) with its own statement cache.
func (d *cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	for _, need := range []bool{
		implements[driver.ExecerContext](c), implements[driver.QueryerContext](c),
		implements[driver.ConnPrepareContext](c), implements[driver.ConnBeginTx](c),
	} {
		if !need {
			_ = c.Close()
			return nil, errUnsupported
		}
	}
	return &conn{inner: c, entries: map[string]*list.Element{}, lru: list.New(), seen: map[string]struct{}{}}, nil
}

func implements[T any](v any) bool { _, ok := v.(T); return ok }

var errUnsupported = errors.New("sqlitecache: the SQLite driver no longer offers the interfaces this cache wraps")

// entry is a cached statement.
type entry struct {
	query   string
	stmt    driver.Stmt
	busy    bool // an open result set is reading from it
	evicted bool // left the cache while busy: close when released
}

// conn is a SQLite connection with its statement cache. database/sql uses
// a connection from one goroutine at a time; mu guards the cache anyway,
// as result sets may be closed late.
type conn struct {
	inner driver.Conn

	mu      sync.Mutex
	entries map[string]*list.Element // query -> element of lru (*entry)
	lru     *list.List               // most recently used first
	seen    map[string]struct{}      // texts seen once, not cached yet
	ring    [seenCapacity]string     // the texts added to seen, overwritten oldest first
	next    int                      // the ring slot written next
}

var (
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
)

// acquire returns the cached statement for query, compiling and caching it
// on its second sighting, and marks it busy; nil means run it uncached
// (first sighting, or the cached one is busy).
func (c *conn) acquire(ctx context.Context, query string) (*entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[query]; ok {
		e := el.Value.(*entry)
		if e.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		e.busy = true
		return e, nil
	}
	if _, ok := c.seen[query]; !ok {
		c.remember(query)
		return nil, nil
	}
	delete(c.seen, query)
	stmt, err := c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	e := &entry{query: query, stmt: stmt, busy: true}
	c.entries[query] = c.lru.PushFront(e)
	for c.lru.Len() > Capacity {
		oldest := c.lru.Back()
		old := oldest.Value.(*entry)
		c.lru.Remove(oldest)
		delete(c.entries, old.query)
		if old.busy {
			old.evicted = true
		} else {
			_ = old.stmt.Close()
		}
	}
	return e, nil
}

// remember notes a text seen once, forgetting the one noted seenCapacity
// texts ago. (That one may have been cached since, or noted again; then
// forgetting it only delays its caching.)
func (c *conn) remember(query string) {
	delete(c.seen, c.ring[c.next])
	c.ring[c.next] = query
	c.next = (c.next + 1) % seenCapacity
	c.seen[query] = struct{}{}
}

// release makes a statement available again.
func (c *conn) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.busy = false
	if e.evicted {
		_ = e.stmt.Close()
	}
}

// ExecContext runs query, from the cache when it has been seen before.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return c.inner.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	defer c.release(e)
	return e.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext runs query, from the cache when it has been seen before;
// the statement stays busy until its rows are closed.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	e, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return c.inner.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	r, err := e.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.release(e)
		return nil, err
	}
	return &rows{Rows: r, release: func() { c.release(e) }}, nil
}

// PrepareContext prepares a statement its caller owns (not cached).
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// Prepare prepares a statement its caller owns (not cached).
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// BeginTx starts a transaction on the connection.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// Begin starts a transaction on the connection.
//
// Deprecated: database/sql calls BeginTx.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// Close releases the cached statements and the connection.
func (c *conn) Close() error {
	c.mu.Lock()
	for el := c.lru.Front(); el != nil; el = el.Next() {
		_ = el.Value.(*entry).stmt.Close()
	}
	c.lru.Init()
	clear(c.entries)
	c.mu.Unlock()
	return c.inner.Close()
}

// Ping checks the connection.
func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession prepares the connection for its next user.
func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid reports whether the connection may be reused.
func (c *conn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// rows is a result set of a cached statement; closing it frees the
// statement for the next run.
type rows struct {
	driver.Rows
	release func()
	once    sync.Once
}

// Close resets the statement and returns it to the cache.
func (r *rows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}

// ColumnTypeDatabaseTypeName reports a column's declared type.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeNullable reports whether a column may be NULL.
func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, has := r.Rows.(driver.RowsColumnTypeNullable); has {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypeScanType reports the Go type a column scans into.
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeLength reports a column's length, for variable-length types.
func (r *rows) ColumnTypeLength(i int) (length int64, ok bool) {
	if t, has := r.Rows.(driver.RowsColumnTypeLength); has {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

// ColumnTypePrecisionScale reports a decimal column's precision and scale.
func (r *rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, has := r.Rows.(driver.RowsColumnTypePrecisionScale); has {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
