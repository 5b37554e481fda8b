package agencytoken_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tandem-outreach/tandem/internal/agencytoken"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

// TestVerify checks that only tokens this hub signed, with its algorithm and
// issuer, still live and unrevoked, are accepted.
func TestVerify(t *testing.T) {
	env := testenv.New(t)
	org := env.Org(t, "Harbor Housing", "housing")
	shelter := env.Create(t, "shelters", map[string]any{"organization": org.Id, "name": "Harbor House"})
	prog := env.Create(t, "bed_programs", map[string]any{"shelter": shelter.Id, "name": "Men's overnight", "population": "single_adult", "status": "open", "total_beds": 5})

	good, err := agencytoken.Issue(env.App, "intake", []string{prog.Id}, time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := agencytoken.Verify(env.App, good.Token)
	if err != nil || rec.Id != good.Record.Id || !agencytoken.Allows(rec, prog.Id) || agencytoken.Allows(rec, "other") {
		t.Fatalf("a fresh token should verify with its scope: %v", err)
	}

	sign := func(method jwt.SigningMethod, key any, claims agencytoken.Claims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(iss string, exp time.Time) agencytoken.Claims {
		return agencytoken.Claims{Programs: []string{prog.Id}, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: iss, Subject: good.Record.Id, ID: good.Record.GetString("jti"), ExpiresAt: jwt.NewNumericDate(exp),
		}}
	}
	var key string
	if err := env.App.DB().NewQuery("SELECT value FROM _tandem_secrets WHERE name = 'agency_token_hs256'").Row(&key); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, token, code string
	}{
		{"empty", "", "token_missing"},
		{"garbage", "not.a.token", "token_invalid"},
		{"wrong key", sign(jwt.SigningMethodHS256, []byte("0123456789abcdef0123456789abcdef"), claims(agencytoken.Issuer, time.Now().Add(time.Hour))), "token_invalid"},
		{"other algorithm", sign(jwt.SigningMethodHS512, []byte(key), claims(agencytoken.Issuer, time.Now().Add(time.Hour))), "token_invalid"},
		{"unsigned", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(agencytoken.Issuer, time.Now().Add(time.Hour))), "token_invalid"},
		{"other issuer", sign(jwt.SigningMethodHS256, []byte(key), claims("someone-else", time.Now().Add(time.Hour))), "token_invalid"},
		{"expired claim", sign(jwt.SigningMethodHS256, []byte(key), claims(agencytoken.Issuer, time.Now().Add(-time.Minute))), "token_expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := agencytoken.Verify(env.App, tc.token)
			var te *agencytoken.Error
			if !errors.As(err, &te) || te.Code != tc.code {
				t.Fatalf("want %s, got %v", tc.code, err)
			}
		})
	}

	if err := agencytoken.Revoke(env.App, good.Record, "test"); err != nil {
		t.Fatal(err)
	}
	var te *agencytoken.Error
	if _, err := agencytoken.Verify(env.App, good.Token); !errors.As(err, &te) || te.Code != "token_revoked" {
		t.Fatalf("revoked token must be refused, got %v", err)
	}
	for _, ttl := range []time.Duration{0, -time.Hour, agencytoken.MaxTTL + time.Hour} {
		if _, err := agencytoken.Issue(env.App, "x", []string{prog.Id}, ttl, "test"); !errors.As(err, &te) {
			t.Fatalf("ttl %v should be refused, got %v", ttl, err)
		}
	}
	if _, err := agencytoken.Issue(env.App, "x", nil, time.Hour, "test"); !errors.As(err, &te) || te.Code != "token_scope_empty" {
		t.Fatalf("a token without programmes should be refused, got %v", err)
	}
}
