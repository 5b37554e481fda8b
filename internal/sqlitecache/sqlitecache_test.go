package sqlitecache

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open(DriverName, filepath.Join(t.TempDir(), "data.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: every statement meets the same cache
	t.Cleanup(func() { db.Close() })
	mustExec(t, db, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)`)
	return db
}

func mustExec(t *testing.T, db interface {
	Exec(string, ...any) (sql.Result, error)
}, query string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return r
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// cached returns how many statements the pool's only connection keeps.
func cached(t *testing.T, db *sql.DB) int {
	t.Helper()
	n, _ := sizes(t, db)
	return n
}

// sizes returns how many statements the pool's only connection keeps and
// how many texts it remembers as seen once.
func sizes(t *testing.T, db *sql.DB) (cachedStatements, seenOnce int) {
	t.Helper()
	raw, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.Raw(func(dc any) error {
		c := dc.(*conn)
		c.mu.Lock()
		cachedStatements, seenOnce = c.lru.Len(), len(c.seen)
		c.mu.Unlock()
		return nil
	})
	return cachedStatements, seenOnce
}

func TestRepeatedStatementsAnswerWithTheirOwnArguments(t *testing.T) {
	db := open(t)
	for i := range 50 {
		mustExec(t, db, `INSERT INTO notes (body) VALUES (?)`, fmt.Sprintf("note %d", i))
	}
	for i := range 50 {
		var body string
		if err := db.QueryRow(`SELECT body FROM notes WHERE id = ?`, i+1).Scan(&body); err != nil || body != fmt.Sprintf("note %d", i) {
			t.Fatalf("row %d: %q, %v", i+1, body, err)
		}
	}
	if n := cached(t, db); n != 2 {
		t.Fatalf("%d statements cached, want the insert and the select", n)
	}
}

// A text is cached on its second sighting: one-off texts never displace
// the ones that repeat.
func TestOneOffTextsAreNotCached(t *testing.T) {
	db := open(t)
	for i := range seenCapacity + 3*Capacity {
		count(t, db, fmt.Sprintf(`SELECT COUNT(*) FROM notes WHERE id > %d`, i))
	}
	if n, seen := sizes(t, db); n != 0 || seen != seenCapacity {
		t.Fatalf("%d one-off statements cached, %d remembered (at most %d)", n, seen, seenCapacity)
	}
}

func TestCacheIsBoundedAndEvictedStatementsStillWork(t *testing.T) {
	db := open(t)
	mustExec(t, db, `INSERT INTO notes (body) VALUES ('a')`)
	texts := make([]string, Capacity+20)
	for i := range texts {
		texts[i] = fmt.Sprintf(`SELECT COUNT(*) + %d FROM notes`, i)
	}
	for range 3 {
		for i, q := range texts {
			if n := count(t, db, q); n != i+1 {
				t.Fatalf("%s = %d", q, n)
			}
		}
	}
	if n := cached(t, db); n != Capacity {
		t.Fatalf("%d statements cached, capacity %d", n, Capacity)
	}
}

// The same text run again while its result set is still open (a query in
// a loop over its own rows) runs uncached beside it.
func TestNestedUseOfTheSameText(t *testing.T) {
	db := open(t)
	for i := range 5 {
		mustExec(t, db, `INSERT INTO notes (body) VALUES (?)`, fmt.Sprint(i))
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	const q = `SELECT id, body FROM notes WHERE id >= ? ORDER BY id`
	for range 2 { // the second pass runs from the cache
		outer, err := tx.Query(q, 1)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for outer.Next() {
			var id int
			var body string
			if err := outer.Scan(&id, &body); err != nil {
				t.Fatal(err)
			}
			inner, err := tx.Query(q, id)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for inner.Next() {
				n++
			}
			inner.Close()
			if n != 5-id+1 {
				t.Fatalf("inner query from %d saw %d rows", id, n)
			}
			seen++
		}
		if err := outer.Close(); err != nil {
			t.Fatal(err)
		}
		if seen != 5 {
			t.Fatalf("outer query saw %d rows", seen)
		}
	}
}

// A cached statement sees schema changes, survives its own errors, and
// works across transactions that commit or roll back.
func TestCachedStatementsFollowTheDatabase(t *testing.T) {
	db := open(t)
	insert := `INSERT INTO notes (body) VALUES (?)`
	mustExec(t, db, insert, "one")
	mustExec(t, db, insert, "two") // cached from here on
	if _, err := db.Exec(insert, "two"); err == nil {
		t.Fatal("a duplicate body must fail the UNIQUE constraint")
	}
	mustExec(t, db, insert, "three")

	tx, _ := db.Begin()
	mustExec(t, tx, insert, "rolled back")
	_ = tx.Rollback()
	tx, _ = db.Begin()
	mustExec(t, tx, insert, "committed")
	_ = tx.Commit()
	if n := count(t, db, `SELECT COUNT(*) FROM notes`); n != 4 {
		t.Fatalf("%d notes, want 4 (one, two, three, committed)", n)
	}

	sel := `SELECT * FROM notes ORDER BY id LIMIT 1`
	for range 2 {
		rows, err := db.Query(sel)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		rows.Close()
		if len(cols) != 2 {
			t.Fatalf("columns %v", cols)
		}
	}
	mustExec(t, db, `ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT ''`)
	rows, err := db.Query(sel)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	if len(cols) != 3 {
		t.Fatalf("after ALTER TABLE the cached statement returned columns %v", cols)
	}
	if _, err := db.Exec(`SELEC nonsense`); err == nil {
		t.Fatal("a syntax error must be reported")
	}
}

func TestManyConnectionsAtOnce(t *testing.T) {
	db := open(t)
	db.SetMaxOpenConns(8)
	errs := make(chan error, 8)
	for w := range 8 {
		go func() {
			for i := range 200 {
				if _, err := db.Exec(`INSERT INTO notes (body) VALUES (?)`, fmt.Sprintf("%d-%d", w, i)); err != nil {
					errs <- err
					return
				}
				var n int
				if err := db.QueryRow(`SELECT COUNT(*) FROM notes WHERE body LIKE ?`, fmt.Sprintf("%d-%%", w)).Scan(&n); err != nil || n != i+1 {
					errs <- fmt.Errorf("worker %d saw %d of its notes after %d (%v)", w, n, i+1, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
