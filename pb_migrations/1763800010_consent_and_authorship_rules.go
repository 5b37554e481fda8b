package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// This migration closes two holes the role-matrix test found in the first
// schema's API rules (pb_migrations/rules_test.go).
//
//  1. Consents: any field role on the team could edit a consent freely, so an
//     officer could turn a revoked consent back to active, or add "police" to
//     its recipients or "clinical" to its compartments. A consent is the
//     person's decision: what was agreed (person, team, compartments,
//     recipients, purpose, method, start) never changes after it is recorded;
//     a new agreement is a new consent record. The only edits left are
//     withdrawal or expiry (status revoked/expired, revoked_at, valid_until)
//     and attaching the signed form.
//  2. Authorship: encounters, referrals, follow-ups and consents carry who
//     recorded them, and any worker could sign a record with a colleague's
//     name or re-sign it later. Now a record can only be signed by the caller
//     when created, and the signature cannot change afterwards.
//
// Clients that send the whole record back on update keep working: unchanged
// values pass (":changed" compares with the stored record).

func init() {
	m.Register(tightenConsentAndAuthorship, loosenConsentAndAuthorship)
}

const (
	ruleFieldRole1 = `(@request.auth.role = "outreach_worker" || @request.auth.role = "clinician" || @request.auth.role = "officer" || @request.auth.role = "team_lead")`

	consentTeam = ruleFieldRole1 + ` && (team ?= @request.auth.teams.id || person.teams.id ?= @request.auth.teams.id)`

	consentFrozen = `@request.body.person:changed = false && @request.body.team:changed = false && @request.body.compartments:changed = false && @request.body.recipients:changed = false && @request.body.purpose:changed = false && @request.body.method:changed = false && @request.body.valid_from:changed = false`

	// Status may stay as it is or move to revoked/expired; never (back) to active.
	consentStatus = `(@request.body.status:changed = false || @request.body.status = "revoked" || @request.body.status = "expired")`

	teamWrite1 = ruleFieldRole1 + ` && team ?= @request.auth.teams.id`
	teamMove1  = `(@request.body.team:isset = false || @request.body.team ?= @request.auth.teams.id)`
)

// signedBy is the create-rule fragment: the author field is empty or the caller.
func signedBy(field string) string {
	return `(` + field + ` = "" || ` + field + ` = @request.auth.id)`
}

// unsigned is the update-rule fragment: the author field does not change.
func unsigned(field string) string {
	return `@request.body.` + field + `:changed = false`
}

func tightenConsentAndAuthorship(app core.App) error {
	consents, err := app.FindCollectionByNameOrId("consents")
	if err != nil {
		return err
	}
	consents.CreateRule = types.Pointer(ruleFieldRole1 + ` && team ?= @request.auth.teams.id && ` + signedBy("recorded_by"))
	consents.UpdateRule = types.Pointer(consentTeam + ` && ` + consentFrozen + ` && ` + consentStatus + ` && ` + unsigned("recorded_by"))
	if err := app.Save(consents); err != nil {
		return err
	}

	for name, author := range map[string]string{"encounters": "recorded_by", "referrals": "created_by", "followups": "created_by"} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return err
		}
		c.CreateRule = types.Pointer(teamWrite1 + ` && ` + signedBy(author))
		c.UpdateRule = types.Pointer(teamWrite1 + ` && ` + teamMove1 + ` && ` + unsigned(author))
		if err := app.Save(c); err != nil {
			return err
		}
	}
	return nil
}

// loosenConsentAndAuthorship restores the rules of 1763800000.
func loosenConsentAndAuthorship(app core.App) error {
	consents, err := app.FindCollectionByNameOrId("consents")
	if err != nil {
		return err
	}
	consents.CreateRule = types.Pointer(ruleFieldRole1 + ` && team ?= @request.auth.teams.id`)
	consents.UpdateRule = types.Pointer(consentTeam)
	if err := app.Save(consents); err != nil {
		return err
	}
	for _, name := range []string{"encounters", "referrals", "followups"} {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return err
		}
		c.CreateRule = types.Pointer(teamWrite1)
		c.UpdateRule = types.Pointer(teamWrite1 + ` && ` + teamMove1)
		if err := app.Save(c); err != nil {
			return err
		}
	}
	return nil
}
