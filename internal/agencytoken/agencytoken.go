// Package agencytoken issues and checks the API tokens a housing agency's own
// system uses to keep bed counts current (DESIGN.md §5).
//
// A token is a JWT signed with HS256 (github.com/golang-jwt/jwt/v5). The
// signing key lives in the database (table _tandem_secrets), so every copy of
// a hub restored from backup accepts the same tokens. Every token also has a
// record in the agency_tokens collection, and that record, not the claims, is
// the authority: scope changes and revocation take effect on the next request,
// without waiting for the token to expire.
package agencytoken

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Collection is the name of the collection that records issued tokens.
const Collection = "agency_tokens"

// Issuer is the "iss" claim of every agency token; tokens from anywhere else
// are refused.
const Issuer = "tandem/agency"

// MaxTTL is the longest a token may live. Agencies rotate at least yearly so
// a token copied into a forgotten script does not work for ever.
const MaxTTL = 366 * 24 * time.Hour

// Error is a refusal with a machine-readable code, for the HTTP layer.
type Error struct {
	Code    string // token_missing, token_invalid, token_expired, token_revoked, token_scope...
	Message string // for the agency's IT staff
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Claims are what a token carries. Programs is informative only: the scope
// that counts is the token record's.
type Claims struct {
	Programs []string `json:"programs"`
	jwt.RegisteredClaims
}

// Issued is a newly minted token. Token is shown once; the server keeps only
// the record.
type Issued struct {
	Token  string
	Record *core.Record
}

// Issue creates a token record and its signed JWT. app should be the
// transactional app when the caller also audits the issue.
func Issue(app core.App, label string, programIDs []string, ttl time.Duration, issuedBy string) (*Issued, error) {
	if ttl <= 0 || ttl > MaxTTL {
		return nil, &Error{Code: "token_ttl_invalid", Message: fmt.Sprintf("a token must expire within %d days", int(MaxTTL.Hours()/24))}
	}
	if len(programIDs) == 0 {
		return nil, &Error{Code: "token_scope_empty", Message: "name at least one bed programme the token may manage"}
	}
	col, err := app.FindCollectionByNameOrId(Collection)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	exp := now.Add(ttl).Truncate(time.Second)
	rec := core.NewRecord(col)
	rec.Set("label", label)
	rec.Set("programs", programIDs)
	rec.Set("jti", security.RandomString(32))
	rec.Set("expires_at", exp)
	rec.Set("issued_by", issuedBy)
	if err := app.Save(rec); err != nil {
		return nil, err
	}
	key, err := signingKey(app)
	if err != nil {
		return nil, err
	}
	claims := Claims{
		Programs: programIDs,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   rec.Id,
			ID:        rec.GetString("jti"),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return nil, err
	}
	return &Issued{Token: signed, Record: rec}, nil
}

// Verify checks the signature, issuer and expiry of raw and that its record
// exists, is not revoked and has not expired. It returns the token record.
// A refusal is an *Error; when the token was well signed but refused (expired
// or revoked), the record is returned too so the refusal can be audited.
func Verify(app core.App, raw string) (*core.Record, error) {
	if raw == "" {
		return nil, &Error{Code: "token_missing", Message: "send the agency token in the Authorization header"}
	}
	key, err := signingKey(app)
	if err != nil {
		return nil, err
	}
	var claims Claims
	_, err = jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		rec, _ := findByJTI(app, claims.ID)
		return rec, &Error{Code: "token_expired", Message: "this agency token has expired; ask the programme's team lead for a new one"}
	case err != nil:
		return nil, &Error{Code: "token_invalid", Message: "the agency token is not one this hub issued, or it was altered"}
	}
	rec, err := findByJTI(app, claims.ID)
	if err != nil {
		return nil, &Error{Code: "token_invalid", Message: "the agency token is not known to this hub"}
	}
	if rec.Id != claims.Subject {
		return nil, &Error{Code: "token_invalid", Message: "the agency token does not match its record"}
	}
	if !rec.GetDateTime("revoked_at").IsZero() {
		return rec, &Error{Code: "token_revoked", Message: "this agency token was revoked on " + rec.GetDateTime("revoked_at").Time().Format(time.RFC3339)}
	}
	if !rec.GetDateTime("expires_at").Time().After(time.Now()) {
		return rec, &Error{Code: "token_expired", Message: "this agency token has expired; ask the programme's team lead for a new one"}
	}
	return rec, nil
}

// Allows reports whether the token record may manage programID.
func Allows(rec *core.Record, programID string) bool {
	return slices.Contains(rec.GetStringSlice("programs"), programID)
}

// Revoke marks the token record revoked now, by whom.
func Revoke(app core.App, rec *core.Record, by string) error {
	if !rec.GetDateTime("revoked_at").IsZero() {
		return nil // revoking twice changes nothing
	}
	rec.Set("revoked_at", types.NowDateTime())
	rec.Set("revoked_by", by)
	return app.Save(rec)
}

func findByJTI(app core.App, jti string) (*core.Record, error) {
	if jti == "" {
		return nil, sql.ErrNoRows
	}
	return app.FindFirstRecordByFilter(Collection, "jti = {:jti}", dbx.Params{"jti": jti})
}

// signingKey reads the HS256 key the migration stored.
func signingKey(app core.App) ([]byte, error) {
	var v string
	err := app.DB().NewQuery(`SELECT value FROM _tandem_secrets WHERE name = 'agency_token_hs256'`).Row(&v)
	if err != nil {
		return nil, fmt.Errorf("agency token key: %w", err)
	}
	if len(v) < 32 {
		return nil, errors.New("agency token key is too short")
	}
	return []byte(v), nil
}
