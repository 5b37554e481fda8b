package changefeed

import (
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
)

// rowsPerStatement is how many rows one multi-row INSERT carries. A few
// dozen rows amortise the statement's cursor seeks and its trip through
// database/sql. modernc.org/sqlite binds parameters in linear time since
// v1.60.1 (its CHANGELOG), and 64 rows measure the same as 32 within noise
// (BenchmarkPushWritesOnly, 18,500-20,100 against 18,800-19,000
// mutations/s); 32 keeps each compiled statement small.
const rowsPerStatement = 32

// InsertRows inserts rows (each of width values, in the order of columns)
// with multi-row INSERT statements: head is "INSERT INTO t (a, b)" and
// returning, when not empty, a RETURNING clause whose rows scan reads.
//
// A statement per row costs its own cursor seeks and its own statement
// journal (SQLite copies every page a statement changes before changing
// it, so a thousand single-row inserts copy the same pages a thousand
// times), and its own trip through database/sql.
func (s *Statements) InsertRows(head string, width int, rows [][]any, returning string, scan func(*dbx.Rows) error) error {
	for start := 0; start < len(rows); start += rowsPerStatement {
		chunk := rows[start:min(start+rowsPerStatement, len(rows))]
		var sql strings.Builder
		sql.WriteString(head)
		sql.WriteString(" VALUES ")
		params := make(dbx.Params, len(chunk)*width)
		for r, row := range chunk {
			if r > 0 {
				sql.WriteString(", ")
			}
			sql.WriteByte('(')
			for c := 0; c < width; c++ {
				if c > 0 {
					sql.WriteString(", ")
				}
				name := "p" + strconv.Itoa(r*width+c)
				sql.WriteString("{:" + name + "}")
				params[name] = row[c]
			}
			sql.WriteByte(')')
		}
		if returning != "" {
			sql.WriteString(" " + returning)
		}
		q := s.Q(sql.String()).Bind(params)
		if returning == "" {
			if _, err := q.Execute(); err != nil {
				return err
			}
			continue
		}
		found, err := q.Rows()
		if err != nil {
			return err
		}
		for found.Next() {
			if err := scan(found); err != nil {
				found.Close()
				return err
			}
		}
		if err := found.Close(); err != nil {
			return err
		}
	}
	return nil
}
