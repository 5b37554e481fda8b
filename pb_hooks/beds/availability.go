package beds

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// timeNow is the server clock. Device clocks are never used to decide.
var timeNow = func() time.Time { return time.Now().UTC() }

type ctxKey int

const (
	// ctxSkipRefresh is set while a programme's own update ends its holds:
	// the programme is recounted once, by that update, not once per hold.
	ctxSkipRefresh ctxKey = iota
	// ctxForceCut carries the agency's explicit force=true on a count change.
	ctxForceCut
	// ctxActor names who changed counts, for counts_updated_by.
	ctxActor
)

// WithForceCut marks a programme save as a capacity cut the agency
// confirmed: granted holds beyond the new capacity are cancelled, newest
// first, instead of the change being refused.
func WithForceCut(ctx context.Context) context.Context {
	return context.WithValue(ctx, ctxForceCut, true)
}

// WithActor records who is changing counts, for counts_updated_by.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, ctxActor, actor)
}

func ctxFlag(ctx context.Context, k ctxKey) bool {
	if ctx == nil {
		return false
	}
	v, _ := ctx.Value(k).(bool)
	return v
}

// inTx runs fn inside a transaction: the caller's if there is one,
// otherwise a new one, with e.App switched to the transactional app so that
// e.Next() writes inside it too. Inside a transaction this process holds
// SQLite's only write connection, which makes read-decide-write atomic.
func inTx(e *core.RecordEvent, fn func() error) error {
	if e.App.IsTransactional() {
		return fn()
	}
	outer := e.App
	defer func() { e.App = outer }()
	return outer.RunInTransaction(func(tx core.App) error {
		e.App = tx
		return fn()
	})
}

// rebase makes rec a field-level edit of the row as it is now: fields the
// caller did not change (relative to what it loaded) take the current
// values. Two agencies editing different counts at once therefore both land,
// and a worker cancelling a hold the server has just expired sees the
// expiry, not a stale "held".
func rebase(rec, current *core.Record) {
	orig := rec.Original()
	for _, f := range rec.Collection().Fields {
		name := f.GetName()
		if name == core.FieldNameId || name == "updated" {
			continue
		}
		if same(rec.Get(name), orig.Get(name)) {
			rec.Set(name, current.Get(name))
		}
	}
}

func same(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// countHeld counts the programme's granted holds, inside app's transaction.
func countHeld(app core.App, programID string) (int, error) {
	var n int
	err := app.DB().NewQuery(`SELECT COUNT(*) FROM bed_holds WHERE program = {:p} AND status = 'held'`).
		Bind(dbx.Params{"p": programID}).Row(&n)
	return n, err
}

func counts(r *core.Record) (total, occupied, oos int) {
	return r.GetInt("total_beds"), r.GetInt("occupied"), r.GetInt("out_of_service")
}

func onProgramCreate(e *core.RecordEvent) error {
	return inTx(e, func() error {
		total, occ, oos := counts(e.Record)
		avail := total - occ - oos
		if avail < 0 {
			return negativeErr(e.Record, total, occ, oos, 0)
		}
		e.Record.Set("active_holds", 0)
		e.Record.Set("available", avail)
		if e.Record.GetString("status") == "" {
			e.Record.Set("status", ProgramOpen)
		}
		if e.Record.GetDateTime("counts_updated_at").IsZero() {
			e.Record.Set("counts_updated_at", timeNow())
		}
		if actor, ok := e.Context.Value(ctxActor).(string); ok && actor != "" {
			e.Record.Set("counts_updated_by", actor)
		}
		return e.Next()
	})
}

func onProgramUpdate(e *core.RecordEvent) error {
	return inTx(e, func() error {
		current, err := e.App.FindRecordById(domain.BedPrograms, e.Record.Id)
		if err != nil {
			return err
		}
		rebase(e.Record, current)
		rec := e.Record
		now := timeNow()

		total, occ, oos := counts(rec)
		t0, o0, s0 := counts(current)
		countsChanged := total != t0 || occ != o0 || oos != s0
		if countsChanged || rec.GetBool("accepting") != current.GetBool("accepting") {
			if same(rec.Get("counts_updated_at"), current.Get("counts_updated_at")) {
				rec.Set("counts_updated_at", now)
			}
			if actor, ok := e.Context.Value(ctxActor).(string); ok && actor != "" {
				rec.Set("counts_updated_by", actor)
			}
		}

		if current.GetString("status") != ProgramClosed && rec.GetString("status") == ProgramClosed {
			reason := fmt.Sprintf("%s closed at %s, so this hold was cancelled.", rec.GetString("name"), clock(now))
			if _, err := endHolds(e.App, e.Context, rec, domain.HoldCancelledProgramClosed, reason, -1); err != nil {
				return err
			}
		}

		active, err := countHeld(e.App, rec.Id)
		if err != nil {
			return err
		}
		avail := total - occ - oos - active
		// A recount that only releases holds is always accepted, even on a
		// programme whose stored counts were already inconsistent.
		if avail < 0 && (countsChanged || active > current.GetInt("active_holds")) {
			if !ctxFlag(e.Context, ctxForceCut) || !countsChanged {
				return negativeErr(rec, total, occ, oos, active)
			}
			reason := fmt.Sprintf("%s cut capacity at %s (total %d→%d, occupied %d→%d, out of service %d→%d). Holds are honoured oldest first; this one was among the newest and was released.",
				rec.GetString("name"), clock(now), t0, total, o0, occ, s0, oos)
			if _, err := endHolds(e.App, e.Context, rec, domain.HoldCancelled, reason, -avail); err != nil {
				return err
			}
			if active, err = countHeld(e.App, rec.Id); err != nil {
				return err
			}
			avail = total - occ - oos - active
			if avail < 0 {
				// Releasing every hold is not enough: the counts alone are
				// impossible. The transaction rolls the releases back.
				return negativeErr(rec, total, occ, oos, active)
			}
		}
		rec.Set("active_holds", active)
		rec.Set("available", avail)
		return e.Next()
	})
}

func negativeErr(rec *core.Record, total, occ, oos, active int) *RuleError {
	free := total - occ - oos - active
	msg := fmt.Sprintf("%s would have %d available beds: %d total − %d occupied − %d out of service − %d held. Availability can never go below zero.",
		nameOr(rec), free, total, occ, oos, active)
	if active > 0 {
		msg += fmt.Sprintf(" %d granted holds are honoured; to cut capacity anyway and release the newest holds, repeat the change with force=true.", active)
	}
	return unprocessable(CodeAvailabilityNegative, msg, map[string]any{
		"rule":       "available = total_beds - occupied - out_of_service - active_holds >= 0",
		"total_beds": total, "occupied": occ, "out_of_service": oos, "active_holds": active, "available": free,
	})
}

func nameOr(rec *core.Record) string {
	if n := rec.GetString("name"); n != "" {
		return n
	}
	return "This programme"
}

// endHolds moves up to limit (all when limit < 0) of the programme's granted
// holds, newest first, to status with reason and the current alternatives.
func endHolds(app core.App, ctx context.Context, program *core.Record, status, reason string, limit int) (int, error) {
	q := app.RecordQuery(domain.BedHolds).
		AndWhere(dbx.HashExp{"program": program.Id, "status": domain.HoldHeld}).
		OrderBy("decided_at DESC", "created DESC", "id DESC")
	if limit >= 0 {
		q = q.Limit(int64(limit))
	}
	var holds []*core.Record
	if err := q.All(&holds); err != nil {
		return 0, err
	}
	if len(holds) == 0 {
		return 0, nil
	}
	alts, err := alternatives(app, program)
	if err != nil {
		return 0, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx = context.WithValue(ctx, ctxSkipRefresh, true)
	for _, h := range holds {
		h.Set("status", status)
		h.Set("reason", reason+" "+altText(alts))
		h.Set("alternatives", alts)
		if err := app.SaveWithContext(ctx, h); err != nil {
			return 0, err
		}
	}
	return len(holds), nil
}

// refreshProgram re-derives a programme's active_holds and available after
// a hold changed, and saves it so the change reaches devices.
func refreshProgram(app core.App, ctx context.Context, programID string, occupiedDelta int) error {
	p, err := app.FindRecordById(domain.BedPrograms, programID)
	if err != nil {
		return err
	}
	if occupiedDelta != 0 {
		p.Set("occupied", p.GetInt("occupied")+occupiedDelta)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return app.SaveWithContext(ctx, p)
}

// Alternative is an open programme that still had room when a hold was
// refused or ended.
type Alternative struct {
	ID         string `json:"id" db:"id"`
	Name       string `json:"name" db:"name"`
	Shelter    string `json:"shelter" db:"shelter"`
	Population string `json:"population" db:"population"`
	Available  int    `json:"available" db:"available"`
}

// alternatives lists up to three open, accepting programmes with a free bed,
// serving the same population first, then the roomiest.
func alternatives(app core.App, program *core.Record) ([]Alternative, error) {
	alts := []Alternative{}
	err := app.DB().NewQuery(`SELECT p.id, p.name, COALESCE(s.name, '') AS shelter, p.population, p.available
		FROM bed_programs p LEFT JOIN shelters s ON s.id = p.shelter
		WHERE p.status = 'open' AND p.accepting = TRUE AND p.available > 0 AND p.id != {:id}
		ORDER BY (p.population = {:pop}) DESC, p.available DESC, p.name
		LIMIT 3`).Bind(dbx.Params{"id": program.Id, "pop": program.GetString("population")}).All(&alts)
	return alts, err
}

func altText(alts []Alternative) string {
	if len(alts) == 0 {
		return "No other open programme has a free bed right now."
	}
	parts := make([]string, len(alts))
	for i, a := range alts {
		parts[i] = fmt.Sprintf("%s at %s (%d free)", a.Name, a.Shelter, a.Available)
	}
	return "Open programmes with room: " + strings.Join(parts, "; ") + "."
}

// clock formats a server time as workers read it: hub-local hour and minute
// with the zone, for example "23:15 CET".
func clock(t time.Time) string {
	return t.In(time.Local).Format("15:04 MST")
}

// holdMinutes is the programme's hold term.
func holdMinutes(program *core.Record) int {
	if m := program.GetInt("hold_minutes"); m > 0 {
		return m
	}
	return DefaultHoldMinutes
}

func nowDT() types.DateTime {
	dt, _ := types.ParseDateTime(timeNow())
	return dt
}
