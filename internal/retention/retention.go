// Package retention applies Tandem's per-compartment retention periods
// (DESIGN.md §6): data of a compartment that has seen no activity for longer
// than its period is removed, so a hub never keeps clinical or police notes
// forever by accident.
//
// What "removed" means per compartment:
//
//   - encounter fields (contact_location, housing, clinical, part2, police,
//     photo): the fields are cleared on encounters not updated within the
//     period; the encounter itself (date, team, disposition) stays for the
//     programme's counts;
//   - identity: a person with no activity (their record, or any encounter,
//     referral or follow-up about them) within the period is de-identified:
//     name becomes "de-identified", aliases, birth year and HMIS id are
//     cleared, the record and its links stay;
//   - photo: person photos are cleared, and separately uploaded photos
//     (the photos collection) older than the period are deleted.
//
// Every purge leaves a "purge" audit event per record in the same
// transaction, and the purged records are re-emitted through the sync change
// feed so devices drop the data at their next pull.
//
// Periods come from the TANDEM_RETENTION environment variable, for example
// TANDEM_RETENTION="clinical=365d,part2=365d,identity=0" (days; 0 keeps the
// compartment forever). Compartments not named keep DefaultConfig's period.
package retention

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// EnvVar is the environment variable that overrides retention periods.
const EnvVar = "TANDEM_RETENTION"

// DeidentifiedName replaces the name of a de-identified person.
const DeidentifiedName = "de-identified"

// PhotosCollection is the collection of separately uploaded photos.
const PhotosCollection = "photos"

// Config is the retention period of each compartment; zero keeps forever.
type Config map[domain.Compartment]time.Duration

const day = 24 * time.Hour

// DefaultConfig is what a hub applies when TANDEM_RETENTION says nothing:
// sensitive notes 2 years, locations and photos 1 year, housing 3 years,
// identity 7 years (HUD HMIS keeps client records 7 years).
func DefaultConfig() Config {
	return Config{
		domain.CompClinical:        730 * day,
		domain.CompPart2:           730 * day,
		domain.CompPolice:          730 * day,
		domain.CompContactLocation: 365 * day,
		domain.CompPhoto:           365 * day,
		domain.CompHousing:         1095 * day,
		domain.CompIdentity:        2555 * day,
	}
}

// ParseConfig reads "clinical=365d,part2=30d,identity=0" on top of
// DefaultConfig. A number without unit is days; "h" hours is accepted for
// testing a schedule.
func ParseConfig(s string) (Config, error) {
	cfg := DefaultConfig()
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("retention: %q should be compartment=days, for example clinical=365d", part)
		}
		c := domain.Compartment(strings.TrimSpace(name))
		known := false
		for _, k := range domain.Compartments {
			known = known || k == c
		}
		if !known {
			return nil, fmt.Errorf("retention: unknown compartment %q", name)
		}
		val = strings.TrimSpace(val)
		unit := day
		switch {
		case strings.HasSuffix(val, "d"):
			val = strings.TrimSuffix(val, "d")
		case strings.HasSuffix(val, "h"):
			val, unit = strings.TrimSuffix(val, "h"), time.Hour
		}
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("retention: %q: the period must be a whole number of days", part)
		}
		cfg[c] = time.Duration(n) * unit
	}
	return cfg, nil
}

// ConfigFromEnv reads TANDEM_RETENTION.
func ConfigFromEnv() (Config, error) { return ParseConfig(os.Getenv(EnvVar)) }

// Item is one kind of purge and the records it touches.
type Item struct {
	Compartment domain.Compartment
	Collection  string
	Action      string // clear_fields, deidentify, delete
	Fields      []string
	IDs         []string
	Cutoff      time.Time
}

// Toucher re-emits records to devices; it has the signature of
// changefeed.Touch.
type Toucher func(app core.App, collection string, ids ...string) error

// Plan lists what a run at now would purge, without changing anything.
func Plan(app core.App, cfg Config, now time.Time) ([]Item, error) {
	var items []Item
	comps := make([]string, 0, len(cfg))
	for c := range cfg {
		comps = append(comps, string(c))
	}
	sort.Strings(comps)
	for _, cs := range comps {
		c := domain.Compartment(cs)
		ttl := cfg[c]
		if ttl <= 0 {
			continue
		}
		cutoff := now.Add(-ttl).UTC()
		// Encounter fields of the compartment.
		if fields := fieldsIn(domain.Encounters, c); len(fields) > 0 {
			ids, err := staleWithData(app, domain.Encounters, fields, cutoff)
			if err != nil {
				return nil, err
			}
			if len(ids) > 0 {
				items = append(items, Item{c, domain.Encounters, "clear_fields", fields, ids, cutoff})
			}
		}
		switch c {
		case domain.CompIdentity:
			ids, err := inactivePersons(app, cutoff, "display_name != {:deid}")
			if err != nil {
				return nil, err
			}
			if len(ids) > 0 {
				items = append(items, Item{c, domain.Persons, "deidentify", fieldsIn(domain.Persons, c), ids, cutoff})
			}
		case domain.CompPhoto:
			ids, err := inactivePersons(app, cutoff, "photo != ''")
			if err != nil {
				return nil, err
			}
			if len(ids) > 0 {
				items = append(items, Item{c, domain.Persons, "clear_fields", []string{"photo"}, ids, cutoff})
			}
			if _, err := app.FindCachedCollectionByNameOrId(PhotosCollection); err == nil {
				var pids []string
				err := app.DB().Select("id").From(PhotosCollection).
					Where(dbx.NewExp("created < {:cutoff}", dbx.Params{"cutoff": dbTime(cutoff)})).Column(&pids)
				if err != nil {
					return nil, err
				}
				if len(pids) > 0 {
					items = append(items, Item{c, PhotosCollection, "delete", []string{"file"}, pids, cutoff})
				}
			}
		}
	}
	return items, nil
}

func fieldsIn(collection string, c domain.Compartment) []string {
	var out []string
	for f, fc := range access.FieldCompartments[collection] {
		if fc == c {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

func dbTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

// notEmpty is the SQL test for "this stored field holds data".
func notEmpty(field string) string {
	return fmt.Sprintf("([[%s]] != '' AND [[%s]] != '[]' AND [[%s]] != '{\"lon\":0,\"lat\":0}')", field, field, field)
}

func staleWithData(app core.App, collection string, fields []string, cutoff time.Time) ([]string, error) {
	conds := make([]string, len(fields))
	for i, f := range fields {
		conds[i] = notEmpty(f)
	}
	var ids []string
	err := app.DB().Select("id").From(collection).
		Where(dbx.NewExp("updated < {:cutoff}", dbx.Params{"cutoff": dbTime(cutoff)})).
		AndWhere(dbx.NewExp("(" + strings.Join(conds, " OR ") + ")")).Column(&ids)
	return ids, err
}

// inactivePersons lists persons matching extra whose record and whose
// encounters, referrals and follow-ups were all last updated before cutoff.
func inactivePersons(app core.App, cutoff time.Time, extra string) ([]string, error) {
	q := `SELECT p.id FROM persons p WHERE p.updated < {:cutoff} AND ` + strings.ReplaceAll(extra, "{:deid}", "{:deid}")
	for _, coll := range []string{domain.Encounters, domain.Referrals, domain.Followups} {
		q += fmt.Sprintf(" AND NOT EXISTS (SELECT 1 FROM %s x WHERE x.person = p.id AND x.updated >= {:cutoff})", coll)
	}
	var ids []string
	err := app.DB().NewQuery(q).Bind(dbx.Params{"cutoff": dbTime(cutoff), "deid": DeidentifiedName}).Column(&ids)
	return ids, err
}

// batchSize bounds one purge transaction, so a large first purge does not
// hold SQLite's single writer for long.
const batchSize = 200

// Apply purges what Plan finds, audits each record and re-emits it.
func Apply(app core.App, cfg Config, now time.Time, touch Toucher) ([]Item, error) {
	items, err := Plan(app, cfg, now)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		for start := 0; start < len(it.IDs); start += batchSize {
			ids := it.IDs[start:min(start+batchSize, len(it.IDs))]
			err := app.RunInTransaction(func(tx core.App) error {
				events := make([]audit.Event, 0, len(ids))
				for _, id := range ids {
					r, err := tx.FindRecordById(it.Collection, id)
					if err != nil {
						continue // gone meanwhile
					}
					switch it.Action {
					case "delete":
						err = tx.Delete(r)
					case "deidentify":
						r.Set("display_name", DeidentifiedName)
						r.Set("aliases", nil)
						r.Set("birth_year", 0)
						r.Set("hmis_id", "")
						err = tx.Save(r)
					default:
						for _, f := range it.Fields {
							r.Set(f, nil)
						}
						err = tx.Save(r)
					}
					if err != nil {
						return fmt.Errorf("retention: purge %s %s: %w", it.Collection, id, err)
					}
					events = append(events, audit.Event{
						ActorKind: "system", Actor: "retention", Action: "purge", Collection: it.Collection,
						RecordID: id, Fields: it.Fields,
						Details: map[string]any{"compartment": string(it.Compartment), "how": it.Action, "inactive_since_before": dbTime(it.Cutoff)},
					})
				}
				if err := audit.Append(tx, events...); err != nil {
					return err
				}
				if touch != nil {
					return touch(tx, it.Collection, ids...)
				}
				return nil
			})
			if err != nil {
				return items, err
			}
		}
	}
	return items, nil
}

// Print writes a report of items for the privacy officer.
func Print(w io.Writer, items []Item, dryRun bool) {
	verb := "purged"
	if dryRun {
		verb = "would purge"
	}
	if len(items) == 0 {
		fmt.Fprintln(w, "Nothing is past its retention period.")
		return
	}
	for _, it := range items {
		fmt.Fprintf(w, "%-16s %-12s %s %d record(s) (%s of %s, inactive since before %s)\n",
			it.Compartment, it.Collection, verb, len(it.IDs), it.Action, strings.Join(it.Fields, ","), it.Cutoff.Format("2006-01-02"))
	}
}

// NewCommand returns the `retention` command: `tandem retention --dry-run`
// prints what would be purged now; without --dry-run it purges.
func NewCommand(app core.App, touch Toucher) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:          "retention",
		Short:        "Apply per-compartment retention (" + EnvVar + "); --dry-run only reports",
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := ConfigFromEnv()
			if err != nil {
				return err
			}
			var items []Item
			if dryRun {
				items, err = Plan(app, cfg, time.Now())
			} else {
				items, err = Apply(app, cfg, time.Now(), touch)
			}
			Print(c.OutOrStdout(), items, dryRun)
			if err != nil {
				fmt.Fprintln(c.ErrOrStderr(), "retention failed:", err)
				os.Exit(1)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only report what would be purged")
	return cmd
}
