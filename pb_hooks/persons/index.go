package persons

import (
	"fmt"
	"slices"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// profileIndex keeps every unmerged person's normalised profile in memory,
// kept current from the change feed: a check reads only the persons written
// since the last one instead of the whole table. Normalising thousands of
// names on every create would cost tens of milliseconds per save.
type profileIndex struct {
	mu       sync.Mutex
	seq      int64 // change feed position the profiles reflect
	loaded   bool
	profiles map[string]Profile
	list     []Profile // sorted by id, replaced (never modified) when dirty
	matcher  *Matcher
	dirty    bool
}

const indexStoreKey = "tandem_persons_profile_index"

// current returns the profiles and a matcher over them, as of now. Inside a
// transaction (an /api/batch request) it reads the table directly: what the
// transaction sees may still roll back and must not enter the shared index.
func current(app core.App) ([]Profile, *Matcher, error) {
	if app.IsTransactional() {
		profiles, err := loadProfiles(app)
		if err != nil {
			return nil, nil, err
		}
		return profiles, NewMatcher(profiles), nil
	}
	idx := app.Store().GetOrSet(indexStoreKey, func() any { return &profileIndex{} }).(*profileIndex)
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if err := idx.refresh(app); err != nil {
		return nil, nil, err
	}
	if idx.dirty || idx.matcher == nil {
		// A new slice each time: callers may still be reading the old one.
		idx.list = make([]Profile, 0, len(idx.profiles))
		for _, p := range idx.profiles {
			idx.list = append(idx.list, p)
		}
		slices.SortFunc(idx.list, func(a, b Profile) int {
			switch {
			case a.ID < b.ID:
				return -1
			case a.ID > b.ID:
				return 1
			}
			return 0
		})
		idx.matcher = NewMatcher(idx.list)
		idx.dirty = false
	}
	return idx.list, idx.matcher, nil
}

// refresh brings the index up to the feed's head.
func (idx *profileIndex) refresh(app core.App) error {
	// Every change up to head has committed (SQLite commits in sequence
	// order), so reading persons after reading head sees at least that.
	var head int64
	if err := app.DB().NewQuery(`SELECT COALESCE(MAX(seq), 0) FROM sync_changes`).Row(&head); err != nil {
		return fmt.Errorf("persons: read change feed head: %w", err)
	}
	if idx.loaded {
		// Deletions older than the feed's tombstone window are pruned: an
		// index that fell behind them could keep a deleted person. Reload.
		pruned, err := changefeed.PrunedThrough(app)
		if err != nil {
			return fmt.Errorf("persons: read change feed horizon: %w", err)
		}
		if pruned > idx.seq {
			idx.loaded = false
		}
	}
	if !idx.loaded {
		profiles, err := loadProfiles(app)
		if err != nil {
			return err
		}
		idx.profiles = make(map[string]Profile, len(profiles))
		for _, p := range profiles {
			idx.profiles[p.ID] = p
		}
		idx.seq, idx.loaded, idx.dirty = head, true, true
		return nil
	}
	if head <= idx.seq {
		return nil
	}
	var ids []string
	err := app.DB().NewQuery(`SELECT record_id FROM sync_changes
		WHERE seq > {:from} AND seq <= {:head} AND collection = 'persons'`).
		Bind(dbx.Params{"from": idx.seq, "head": head}).Column(&ids)
	if err != nil {
		return fmt.Errorf("persons: read change feed: %w", err)
	}
	if len(ids) > 0 {
		fresh, err := loadProfilesWhere(app, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if p, ok := fresh[id]; ok {
				idx.profiles[id] = p
			} else {
				delete(idx.profiles, id) // deleted, or merged into someone
			}
		}
		idx.dirty = true
	}
	idx.seq = head
	return nil
}
