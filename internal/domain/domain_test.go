package domain_test

import (
	"slices"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestEnumerationsMatchSchema: the Go enumerations and the select values the
// migrations created are the same sets, so neither can drift from the other
// (migrations spell their values out and do not import this package).
func TestEnumerationsMatchSchema(t *testing.T) {
	env := testenv.New(t)
	cases := []struct {
		collection, field string
		want              []string
	}{
		{domain.Users, "role", strs(domain.Roles)},
		{domain.Organizations, "kind", strs(domain.OrgKinds)},
		{domain.SharingAgreements, "data_owner_kind", strs(domain.OrgKinds)},
		{domain.SharingAgreements, "recipient_kind", strs(domain.OrgKinds)},
		{domain.Consents, "recipients", strs(domain.OrgKinds)},
		{domain.Consents, "compartments", strs(domain.Compartments)},
		{domain.SharingAgreements, "compartments", strs(domain.Compartments)},
		{domain.Followups, "status", domain.FollowupStatuses},
		{domain.BedHolds, "status", domain.HoldStatuses},
		{domain.Encounters, "disposition", domain.Dispositions},
		{domain.BedPrograms, "population", domain.Populations},
		{domain.Encounters, "living_situation", keys(domain.LivingSituations)},
		{domain.Referrals, "event_code", keys(domain.ReferralEvents)},
	}
	for _, tc := range cases {
		t.Run(tc.collection+"."+tc.field, func(t *testing.T) {
			c, err := env.App.FindCollectionByNameOrId(tc.collection)
			if err != nil {
				t.Fatalf("collection %q is not in the migrated schema: %v", tc.collection, err)
			}
			f, ok := c.Fields.GetByName(tc.field).(*core.SelectField)
			if !ok {
				t.Fatalf("%s.%s is not a select field in the migrated schema", tc.collection, tc.field)
			}
			got, want := slices.Sorted(slices.Values(f.Values)), slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("schema has %v\ndomain has %v", got, want)
			}
		})
	}
}

// TestRolesInDashboardOrder: Roles promises the order the dashboard shows.
func TestRolesInDashboardOrder(t *testing.T) {
	env := testenv.New(t)
	c, err := env.App.FindCollectionByNameOrId(domain.Users)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Fields.GetByName("role").(*core.SelectField).Values
	if want := strs(domain.Roles); !slices.Equal(got, want) {
		t.Errorf("dashboard order %v, domain.Roles %v", got, want)
	}
}

// TestCollectionNamesExist: every collection name constant names a migrated
// collection, and the field roles are exactly the roles that work on a team.
func TestCollectionNamesExist(t *testing.T) {
	env := testenv.New(t)
	for _, name := range []string{
		domain.Organizations, domain.Users, domain.Teams, domain.Devices, domain.Persons,
		domain.Consents, domain.SharingAgreements, domain.Encounters, domain.Referrals,
		domain.Followups, domain.Shelters, domain.BedPrograms, domain.BedHolds,
		domain.Conflicts, domain.AuditEvents,
	} {
		if _, err := env.App.FindCollectionByNameOrId(name); err != nil {
			t.Errorf("domain names collection %q, the schema has none: %v", name, err)
		}
	}
}

func TestIsFieldRole(t *testing.T) {
	for _, tc := range []struct {
		role domain.Role
		want bool
	}{
		{domain.RoleOutreachWorker, true},
		{domain.RoleClinician, true},
		{domain.RoleOfficer, true},
		{domain.RoleTeamLead, true},
		{domain.RoleHousingAgent, false},
		{domain.RolePrivacyOfficer, false},
		{domain.RoleAnalyst, false},
		{domain.Role(""), false},
		{domain.Role("superuser"), false},
	} {
		if got := tc.role.IsFieldRole(); got != tc.want {
			t.Errorf("%q.IsFieldRole() = %v, want %v", tc.role, got, tc.want)
		}
	}
}
