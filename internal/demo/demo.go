// Package demo loads a small, obviously fictional outreach programme into a
// Tandem hub so people can try it: two co-responder teams, the agencies
// behind them, three shelters with live bed counts (one a confidential
// domestic-violence site) and a week of street work — encounters, referrals,
// follow-ups and bed holds — including people met by both teams.
//
// Everything is saved through the app like any other write, so the hooks
// (bed availability, change feed, audit trail) see the demo data exactly as
// they would see real data. Seed runs in one transaction and refuses to run
// twice, so it never duplicates or half-loads anything.
//
// Every name, address, phone number and note is made up.
package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Password is the password of every demo user account.
const Password = "tandem-demo-2026"

// SuperuserEmail and SuperuserPassword sign in to the admin dashboard (/_/).
const (
	SuperuserEmail    = "admin@demo.example.org"
	SuperuserPassword = "tandem-demo-admin"
)

// ErrAlreadyLoaded is returned by Seed when the hub already holds the demo
// data; nothing was changed.
var ErrAlreadyLoaded = errors.New("demo data is already loaded; nothing was changed")

// Login is one account the demo creates.
type Login struct {
	Email        string
	Password     string
	Role         string // a users role, or "superuser" for the dashboard account
	Team         string // team name, empty for roles without a team
	Organization string
}

// Logins lists every demo account: the dashboard superuser first, then the
// users in the order they are created.
type Logins []Login

// ID returns the deterministic 15-character record id the demo uses for key
// (PocketBase's default id format: lowercase letters and digits).
func ID(key string) string {
	sum := sha256.Sum256([]byte("tandem-demo/" + key))
	s := new(big.Int).SetBytes(sum[:]).Text(36)
	for len(s) < 15 {
		s = "0" + s
	}
	return s[:15]
}

// UUID returns the deterministic UUID the demo uses for key, in the format a
// device generates for the collections devices write to.
func UUID(key string) string {
	sum := sha256.Sum256([]byte("tandem-demo/" + key))
	sum[6] = sum[6]&0x0f | 0x40
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// markerKey names the record whose presence means the demo is loaded.
const markerKey = "org/outreach"

// Loaded reports whether the demo data is already in app.
func Loaded(app core.App) bool {
	_, err := app.FindRecordById("organizations", ID(markerKey))
	return err == nil
}

// Seed loads the demo into app and returns the accounts it created. It needs
// a migrated app. When the demo is already loaded it changes nothing and
// returns the same logins with ErrAlreadyLoaded.
func Seed(app core.App) (Logins, error) {
	logins := accounts()
	if Loaded(app) {
		return logins, ErrAlreadyLoaded
	}
	err := app.RunInTransaction(func(tx core.App) error {
		s := &seeder{app: tx, now: time.Now().UTC().Truncate(time.Minute)}
		return s.run()
	})
	if err != nil {
		return nil, fmt.Errorf("demo: nothing was loaded: %w", err)
	}
	return logins, nil
}

// accounts lists the demo logins; it is built from the same tables run uses.
func accounts() Logins {
	out := Logins{{Email: SuperuserEmail, Password: SuperuserPassword, Role: "superuser", Organization: "(admin dashboard)"}}
	for _, u := range people {
		team := ""
		if u.team != "" {
			team = teamByKey(u.team).name
		}
		out = append(out, Login{Email: u.email, Password: Password, Role: u.role, Team: team, Organization: orgByKey(u.org).name})
	}
	return out
}
