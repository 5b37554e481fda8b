package tandem

import (
	"database/sql"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/sqlitecache"
)

// MaxReaders bounds SQLite reader connections. PocketBase allows 120, each
// caching up to 32 MB of pages; a hub on a small machine gains nothing
// from more readers than it has cores to run them, and hundreds of tablets
// pulling at once would otherwise push memory past 800 MB.
//
// SQLite's own WAL checkpointing is kept. Moving it to a background
// goroutine made pushes about a tenth faster in a benchmark, but under
// continuous writes a checkpoint that runs between commits never catches
// the log up, so the log is never rewound: in a 500-tablet run it grew to
// nearly 1 GB, against 5–7 MB with the checkpoint at commit.
const MaxReaders = 16

// Config is the PocketBase app configuration Tandem runs with, for main.go
// and the test helpers alike.
func Config(dataDir string) core.BaseAppConfig {
	return core.BaseAppConfig{
		DataDir:          dataDir,
		DataMaxOpenConns: MaxReaders,
		DataMaxIdleConns: MaxReaders,
		DBConnect:        Connect,
	}
}

// sqlitePragmas are PocketBase's own connection settings
// (core.DefaultDBConnect); busy_timeout must come first.
const sqlitePragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)"

// Connect opens a PocketBase database as core.DefaultDBConnect does, on
// SQLite connections that keep the statements they compile (see
// sqlitecache).
func Connect(dbPath string) (*dbx.DB, error) {
	db, err := sql.Open(sqlitecache.DriverName, dbPath+sqlitePragmas)
	if err != nil {
		return nil, err
	}
	return dbx.NewFromDB(db, "sqlite"), nil
}
