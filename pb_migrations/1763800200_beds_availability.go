package migrations

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// This migration adds what the bed board needs on top of the outreach schema
// (DESIGN.md §5):
//
//   - bed_programs.active_holds and bed_programs.available: maintained by the
//     server in the same transaction as every count or hold change, so a
//     device reads availability instead of computing it from stale parts;
//   - bed_holds.alternatives: the open programmes that still had room when a
//     hold was refused, as data a tablet can show as buttons;
//   - agency_tokens: API tokens a housing agency's own system uses, scoped to
//     named programmes, revocable at once;
//   - _tandem_secrets: a plain table (not a collection, so never exposed by
//     the records API) holding the HS256 key agency tokens are signed with.

func init() {
	m.Register(addBedAvailability, dropBedAvailability)
}

func addBedAvailability(app core.App) error {
	programs, err := app.FindCollectionByNameOrId("bed_programs")
	if err != nil {
		return err
	}
	programs.Fields.Add(
		&core.NumberField{Name: "active_holds", OnlyInt: true, Help: "Holds granted and not yet arrived, expired or cancelled. Kept by the server; never typed."},
		&core.NumberField{Name: "available", OnlyInt: true, Help: "total_beds − occupied − out_of_service − active_holds. Kept by the server; never negative for a change it accepts."},
	)
	if err := app.Save(programs); err != nil {
		return fmt.Errorf("bed_programs availability fields: %w", err)
	}
	// Programmes that already exist get their derived fields computed once.
	_, err = app.DB().NewQuery(`UPDATE bed_programs SET
		active_holds = (SELECT COUNT(*) FROM bed_holds h WHERE h.program = bed_programs.id AND h.status = 'held'),
		available = total_beds - occupied - out_of_service -
			(SELECT COUNT(*) FROM bed_holds h WHERE h.program = bed_programs.id AND h.status = 'held')`).Execute()
	if err != nil {
		return fmt.Errorf("backfill availability: %w", err)
	}

	holds, err := app.FindCollectionByNameOrId("bed_holds")
	if err != nil {
		return err
	}
	holds.Fields.Add(&core.JSONField{Name: "alternatives", MaxSize: 8192, Help: "When refused: open programmes that still had room, nearest match first ({id, name, shelter, population, available})."})
	holds.AddIndex("idx_bed_holds_status_held_until", false, "status, held_until", "")
	// The status a device sends is no longer checked by the rule: the beds
	// hook answers a wrong status with a clear beds_hold_status_server_decided
	// error instead of the rule's bare "Failed to create record".
	holds.CreateRule = types.Pointer(`(@request.auth.role = "outreach_worker" || @request.auth.role = "clinician" || @request.auth.role = "officer" || @request.auth.role = "team_lead") && team ?= @request.auth.teams.id`)
	if err := app.Save(holds); err != nil {
		return fmt.Errorf("bed_holds alternatives: %w", err)
	}

	tokens := core.NewBaseCollection("agency_tokens", "tdm_agency_tokens")
	tokens.Fields.Add(
		&core.TextField{Name: "label", Required: true, Max: 200, Help: "Whose system uses the token, for example \"Harbor House intake system\"."},
		&core.RelationField{Name: "programs", CollectionId: programs.Id, Required: true, MaxSelect: 100, Help: "The only programmes whose counts and holds the token may read and change."},
		&core.TextField{Name: "jti", Required: true, Max: 64, Help: "Token id carried inside the signed token."},
		&core.DateField{Name: "expires_at", Required: true, Help: "After this the token is refused."},
		&core.DateField{Name: "revoked_at", Help: "Set to refuse the token from now on."},
		&core.TextField{Name: "revoked_by", Max: 200, Help: "Who revoked it."},
		&core.TextField{Name: "issued_by", Max: 200, Help: "Team lead, housing agent or superuser who issued it."},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	tokenRead := `@request.auth.role = "team_lead" || @request.auth.role = "privacy_officer" || (@request.auth.role = "housing_agent" && programs.shelter.organization ?= @request.auth.organization)`
	tokens.ListRule, tokens.ViewRule = types.Pointer(tokenRead), types.Pointer(tokenRead)
	// Tokens are issued and revoked through /api/beds/v1/tokens only, so
	// every issue and revocation is audited; superusers may still edit
	// revoked_at in the dashboard.
	tokens.AddIndex("idx_agency_tokens_jti", true, "jti", "")
	if err := app.Save(tokens); err != nil {
		return fmt.Errorf("create agency_tokens: %w", err)
	}

	if _, err := app.DB().NewQuery(`CREATE TABLE IF NOT EXISTS _tandem_secrets (
		name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)`).Execute(); err != nil {
		return fmt.Errorf("create _tandem_secrets: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	_, err = app.DB().NewQuery(`INSERT OR IGNORE INTO _tandem_secrets (name, value) VALUES ('agency_token_hs256', {:v})`).
		Bind(map[string]any{"v": hex.EncodeToString(key)}).Execute()
	return err
}

func dropBedAvailability(app core.App) error {
	if c, err := app.FindCollectionByNameOrId("agency_tokens"); err == nil {
		if err := app.Delete(c); err != nil {
			return err
		}
	}
	if _, err := app.DB().NewQuery(`DROP TABLE IF EXISTS _tandem_secrets`).Execute(); err != nil {
		return err
	}
	if holds, err := app.FindCollectionByNameOrId("bed_holds"); err == nil {
		holds.Fields.RemoveByName("alternatives")
		holds.RemoveIndex("idx_bed_holds_status_held_until")
		holds.CreateRule = types.Pointer(`(@request.auth.role = "outreach_worker" || @request.auth.role = "clinician" || @request.auth.role = "officer" || @request.auth.role = "team_lead") && team ?= @request.auth.teams.id && (@request.body.status:isset = false || @request.body.status = "requested")`)
		if err := app.Save(holds); err != nil {
			return err
		}
	}
	if programs, err := app.FindCollectionByNameOrId("bed_programs"); err == nil {
		programs.Fields.RemoveByName("active_holds")
		programs.Fields.RemoveByName("available")
		return app.Save(programs)
	}
	return nil
}
