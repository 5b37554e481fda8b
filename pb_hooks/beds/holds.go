package beds

import (
	"fmt"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// holdTransitions lists, for each status, the statuses a hold may move to.
// Only "held" is open: every other status is final, so a late cancellation
// of an expired hold is refused rather than resurrecting it.
var holdTransitions = map[string][]string{
	domain.HoldRequested: {domain.HoldHeld, domain.HoldRejectedNoCapacity, domain.HoldExpired, domain.HoldCancelled, domain.HoldCancelledProgramClosed},
	domain.HoldHeld:      {domain.HoldArrived, domain.HoldExpired, domain.HoldCancelled, domain.HoldCancelledProgramClosed},
}

// TransitionAllowed reports whether a hold may move from one status to
// another.
func TransitionAllowed(from, to string) bool {
	for _, s := range holdTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// holdServerFields are decided by the server when the hold is created and
// never change afterwards.
var holdServerFields = []string{"program", "team", "requested_by", "requested_at", "decided_at", "held_until"}

// onHoldCreate decides a new hold: held, rejected_no_capacity, expired or
// cancelled_program_closed. It runs for the records API and for sync alike.
func onHoldCreate(e *core.RecordEvent) error {
	return inTx(e, func() error {
		h := e.Record
		now := timeNow()
		switch st := h.GetString("status"); st {
		case "", domain.HoldRequested:
		case domain.HoldCancelled:
			// Asked for and cancelled on the device before it ever reached
			// the server: keep the record, take no bed.
			h.Set("decided_at", now)
			h.Set("held_until", "")
			if h.GetString("reason") == "" {
				h.Set("reason", "Cancelled on the device before it reached the server; no bed was taken.")
			}
			return e.Next()
		default:
			return unprocessable(CodeHoldStatusOnCreate,
				fmt.Sprintf("A new hold must arrive as \"requested\", not %q: the server decides whether a bed is held.", st),
				map[string]any{"status": st})
		}

		program, err := e.App.FindRecordById(domain.BedPrograms, h.GetString("program"))
		if err != nil {
			return unprocessable(CodeNotFound, "The hold names a bed programme this hub does not know.", map[string]any{"program": h.GetString("program")})
		}
		status, reason, heldUntil, alts, err := decide(e.App, program, h, now)
		if err != nil {
			return err
		}
		h.Set("status", status)
		h.Set("reason", reason)
		h.Set("decided_at", now)
		// Whatever a device sent for the server's fields is replaced.
		h.Set("held_until", "")
		if !heldUntil.IsZero() {
			h.Set("held_until", heldUntil)
		}
		h.Set("alternatives", nil)
		if alts != nil {
			h.Set("alternatives", alts)
		}
		if err := e.Next(); err != nil {
			return err
		}
		if status == domain.HoldHeld {
			return refreshProgram(e.App, e.Context, program.Id, 0)
		}
		return nil
	})
}

// decide is the whole hold policy, evaluated inside the write transaction.
func decide(app core.App, program, h *core.Record, now time.Time) (status, reason string, heldUntil time.Time, alts []Alternative, err error) {
	name := nameOr(program)
	term := holdMinutes(program)

	// The device's clock says when the worker asked. A clock in the future
	// is clamped to now: it can shorten nothing and extend nothing.
	asked := h.GetDateTime("requested_at").Time()
	if asked.IsZero() || asked.After(now) {
		asked = now
	}
	deadline := asked.Add(time.Duration(term) * time.Minute)

	withAlts := func(st, msg string) (string, string, time.Time, []Alternative, error) {
		a, err := alternatives(app, program)
		if err != nil {
			return "", "", time.Time{}, nil, err
		}
		return st, msg + " " + altText(a), time.Time{}, a, nil
	}

	switch {
	case program.GetString("status") == ProgramClosed:
		return withAlts(domain.HoldCancelledProgramClosed, fmt.Sprintf("%s is closed; no bed was held.", name))
	case !deadline.After(now):
		return withAlts(domain.HoldExpired, fmt.Sprintf(
			"Queued at %s, reached the server at %s: the %d-minute hold term had already run out, so no bed was held. Ask again if the person still needs a bed.",
			clock(asked), clock(now), term))
	case !program.GetBool("accepting"):
		return withAlts(domain.HoldRejectedNoCapacity, fmt.Sprintf("%s is not taking new guests tonight.", name))
	}

	active, err := countHeld(app, program.Id)
	if err != nil {
		return "", "", time.Time{}, nil, err
	}
	total, occ, oos := counts(program)
	if total-occ-oos-active <= 0 {
		return withAlts(domain.HoldRejectedNoCapacity, fmt.Sprintf(
			"No bed left at %s when this request arrived: %d total, %d occupied, %d out of service, %d already held (counts confirmed %s).",
			name, total, occ, oos, active, age(program.GetDateTime("counts_updated_at").Time(), now)))
	}
	until := now.Add(time.Duration(term) * time.Minute)
	return domain.HoldHeld, fmt.Sprintf("Bed held at %s until %s (%d minutes). Tell the shelter if plans change.", name, clock(until), term),
		until, nil, nil
}

// age says how old a time is, as a worker would: "12 min ago".
func age(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min ago", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}

// onHoldUpdate enforces the hold state machine and keeps the programme's
// availability true when a hold stops counting.
func onHoldUpdate(e *core.RecordEvent) error {
	return inTx(e, func() error {
		current, err := e.App.FindRecordById(domain.BedHolds, e.Record.Id)
		if err != nil {
			return err
		}
		rebase(e.Record, current)
		h := e.Record
		for _, f := range holdServerFields {
			if !same(h.Get(f), current.Get(f)) {
				return unprocessable(CodeHoldImmutable,
					fmt.Sprintf("A hold's %s is fixed when the server decides it; ask for a new hold instead.", f),
					map[string]any{"field": f})
			}
		}
		from, to := current.GetString("status"), h.GetString("status")
		if from == to {
			return e.Next()
		}
		if !TransitionAllowed(from, to) {
			return unprocessable(CodeHoldTransition,
				fmt.Sprintf("This hold is already %s and cannot become %s. %s", words(from), words(to), current.GetString("reason")),
				map[string]any{"from": from, "to": to})
		}
		if same(h.Get("reason"), current.Get("reason")) {
			h.Set("reason", defaultReason(to, timeNow()))
		}
		if err := e.Next(); err != nil {
			return err
		}
		if from == domain.HoldHeld && !ctxFlag(e.Context, ctxSkipRefresh) {
			delta := 0
			if to == domain.HoldArrived {
				// The guest takes the held bed: it moves from held to
				// occupied and availability does not change.
				delta = 1
			}
			return refreshProgram(e.App, e.Context, h.GetString("program"), delta)
		}
		return nil
	})
}

func defaultReason(to string, now time.Time) string {
	switch to {
	case domain.HoldArrived:
		return fmt.Sprintf("Guest arrived at %s; the held bed is now counted as occupied.", clock(now))
	case domain.HoldExpired:
		return fmt.Sprintf("Marked as a no-show by the shelter at %s; the bed was released.", clock(now))
	case domain.HoldCancelled:
		return fmt.Sprintf("Cancelled by the team at %s; the bed was released.", clock(now))
	case domain.HoldCancelledProgramClosed:
		return fmt.Sprintf("The programme closed at %s, so this hold was cancelled.", clock(now))
	}
	return ""
}

func words(status string) string {
	switch status {
	case domain.HoldRejectedNoCapacity:
		return "refused for lack of beds"
	case domain.HoldCancelledProgramClosed:
		return "cancelled because the programme closed"
	}
	return status
}

// onHoldDelete releases the bed of a deleted granted hold.
func onHoldDelete(e *core.RecordEvent) error {
	return inTx(e, func() error {
		current, err := e.App.FindRecordById(domain.BedHolds, e.Record.Id)
		if err != nil {
			return e.Next()
		}
		if err := e.Next(); err != nil {
			return err
		}
		if current.GetString("status") == domain.HoldHeld {
			return refreshProgram(e.App, e.Context, current.GetString("program"), 0)
		}
		return nil
	})
}
