package tandem

import (
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver PocketBase uses
)

// MaxReaders bounds SQLite reader connections. PocketBase allows 120, each
// caching up to 32 MB of pages; a hub on a small machine gains nothing
// from more readers than it has cores to run them, and hundreds of tablets
// pulling at once would otherwise push memory past 800 MB.
const MaxReaders = 16

// checkpointEvery is how often the write-ahead log is copied back into the
// database file.
const checkpointEvery = time.Second

// DBConnect opens a database with PocketBase's settings except one: SQLite
// does not checkpoint the write-ahead log inside the transaction that
// fills it. By default the commit that crosses 1,000 log pages copies them
// into the database file before it returns, so every few pushes one of them
// pays for the writes of all the others. A background checkpointer
// (started by Register when the server starts) does it instead, on a
// reader connection, without holding up the writer.
func DBConnect(dbPath string) (*dbx.DB, error) {
	// busy_timeout must come first: the connection must wait on a busy
	// database before WAL mode is set (PocketBase's own order).
	pragmas := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)" +
		"&_pragma=wal_autocheckpoint(0)"
	return dbx.Open("sqlite", dbPath+pragmas)
}

// Config is the PocketBase app configuration Tandem runs with, for main.go
// and the test helpers alike.
func Config(dataDir string) core.BaseAppConfig {
	return core.BaseAppConfig{
		DataDir:          dataDir,
		DataMaxOpenConns: MaxReaders,
		DataMaxIdleConns: MaxReaders,
		DBConnect:        DBConnect,
	}
}

// startCheckpointer copies the write-ahead logs of the data and auxiliary
// databases into their files every checkpointEvery, until the app stops.
// PASSIVE checkpoints never wait for the writer or for readers; whatever a
// long read still needs is copied on a later round.
func startCheckpointer(app core.App) {
	var once sync.Once
	stop := make(chan struct{})
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		once.Do(func() {
			go func() {
				tick := time.NewTicker(checkpointEvery)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if !app.IsBootstrapped() {
							return // closed without terminating (a restart)
						}
						checkpoint(app)
					}
				}
			}()
		})
		return e.Next()
	})
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		select {
		case <-stop:
		default:
			close(stop)
		}
		return e.Next()
	})
}

func checkpoint(app core.App) {
	for name, db := range map[string]dbx.Builder{"data": app.ConcurrentDB(), "auxiliary": app.AuxConcurrentDB()} {
		if db == nil {
			continue
		}
		if _, err := db.NewQuery("PRAGMA wal_checkpoint(PASSIVE)").Execute(); err != nil {
			app.Logger().Warn("write-ahead log checkpoint failed; will retry", "database", name, "error", err)
		}
	}
}
