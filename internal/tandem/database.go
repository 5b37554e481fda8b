package tandem

import "github.com/pocketbase/pocketbase/core"

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
	}
}
