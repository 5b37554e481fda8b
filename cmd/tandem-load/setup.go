package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

// accounts is the file --setup writes and later runs read: the load users
// and their shared password (these accounts exist only for load tests).
type accounts struct {
	URL      string    `json:"url"`
	Org      string    `json:"organization"`
	Teams    []string  `json:"teams"`
	Password string    `json:"password"`
	Users    []account `json:"users"`
}

type account struct {
	Email string `json:"email"`
	Team  string `json:"team"`
	ID    string `json:"id,omitempty"`
	// Token is a static token issued at setup by superuser impersonation,
	// so runs need no password hashing per device (PocketBase hashes
	// passwords with bcrypt: 500 sign-ins take minutes on a small box).
	Token string `json:"token,omitempty"`
}

// tokenDays is how long the tokens issued at setup stay valid.
const tokenDays = 7

func loadAccounts(path string) (*accounts, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no accounts file %s: run once with --setup --admin-email … --admin-password … to create the load users", path)
	}
	if err != nil {
		return nil, err
	}
	var a accounts
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("accounts file %s is not valid: %w", path, err)
	}
	return &a, nil
}

func (a *accounts) save(path string) error {
	raw, _ := json.MarshalIndent(a, "", "  ")
	return os.WriteFile(path, raw, 0o600)
}

// api calls the PocketBase records API and decodes the answer.
func api(ctx context.Context, hc *http.Client, method, url, token string, body, out any) error {
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return &apiError{status: res.StatusCode, body: strings.TrimSpace(string(raw))}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// setup makes sure n load users exist, creating what is missing with the
// superuser account, and saves the accounts file.
func setup(ctx context.Context, opt options, hc *http.Client, log io.Writer) (*accounts, error) {
	acc, err := loadAccounts(opt.Accounts)
	if err != nil || acc.URL != opt.URL {
		pw := make([]byte, 12)
		rand.Read(pw)
		acc = &accounts{URL: opt.URL, Password: "load-" + hex.EncodeToString(pw)}
	}
	var su struct {
		Token string `json:"token"`
	}
	if err := api(ctx, hc, http.MethodPost, opt.URL+"/api/collections/_superusers/auth-with-password", "",
		map[string]string{"identity": opt.AdminEmail, "password": opt.AdminPassword}, &su); err != nil {
		return nil, fmt.Errorf("superuser sign-in as %s: %w", opt.AdminEmail, err)
	}
	if acc.Org == "" {
		var org struct{ ID string }
		if err := api(ctx, hc, http.MethodPost, opt.URL+"/api/collections/organizations/records", su.Token,
			map[string]any{"name": "Tandem load test", "kind": "outreach"}, &org); err != nil {
			return nil, fmt.Errorf("create organisation: %w", err)
		}
		acc.Org = org.ID
	}
	for len(acc.Teams)*10 < opt.Devices {
		var team struct{ ID string }
		if err := api(ctx, hc, http.MethodPost, opt.URL+"/api/collections/teams/records", su.Token,
			map[string]any{"name": fmt.Sprintf("Load team %d", len(acc.Teams)+1), "active": true}, &team); err != nil {
			return nil, fmt.Errorf("create team: %w", err)
		}
		acc.Teams = append(acc.Teams, team.ID)
	}
	start := len(acc.Users)
	for i := start; i < opt.Devices; i++ {
		acc.Users = append(acc.Users, account{Email: fmt.Sprintf("load-%05d@example.org", i+1), Team: acc.Teams[i/10]})
	}
	err = parallel(ctx, 4, opt.Devices-start, func(k int) error {
		u := acc.Users[start+k]
		err := api(ctx, hc, http.MethodPost, opt.URL+"/api/collections/users/records", su.Token, map[string]any{
			"email": u.Email, "password": acc.Password, "passwordConfirm": acc.Password, "verified": true,
			"name": fmt.Sprintf("Load worker %d", start+k+1), "role": "outreach_worker",
			"organization": acc.Org, "teams": []string{u.Team},
		}, nil)
		if err != nil {
			return fmt.Errorf("create user %s: %w", u.Email, err)
		}
		return nil
	})
	if err == nil {
		err = issueTokens(ctx, hc, opt.URL, su.Token, acc)
	}
	if saveErr := acc.save(opt.Accounts); saveErr != nil {
		return nil, saveErr
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "setup: %d load users ready (%d new), logins saved in %s\n", len(acc.Users), opt.Devices-start, opt.Accounts)
	return acc, nil
}

// issueTokens finds the load users' ids and issues each a static token by
// superuser impersonation.
func issueTokens(ctx context.Context, hc *http.Client, baseURL, suToken string, acc *accounts) error {
	ids := map[string]string{}
	for page := 1; ; page++ {
		var list struct {
			Items []struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			} `json:"items"`
			TotalPages int `json:"totalPages"`
		}
		q := fmt.Sprintf("%s/api/collections/users/records?perPage=500&page=%d&fields=id,email&filter=%s", baseURL, page, url.QueryEscape("email ~ 'load-%'"))
		if err := api(ctx, hc, http.MethodGet, q, suToken, nil, &list); err != nil {
			return fmt.Errorf("list load users: %w", err)
		}
		for _, it := range list.Items {
			ids[it.Email] = it.ID
		}
		if page >= list.TotalPages {
			break
		}
	}
	return parallel(ctx, 8, len(acc.Users), func(i int) error {
		u := &acc.Users[i]
		if u.ID = ids[u.Email]; u.ID == "" {
			return fmt.Errorf("load user %s not found on the server", u.Email)
		}
		var res struct {
			Token string `json:"token"`
		}
		if err := api(ctx, hc, http.MethodPost, baseURL+"/api/collections/users/impersonate/"+u.ID, suToken,
			map[string]any{"duration": tokenDays * 24 * 3600}, &res); err != nil {
			return fmt.Errorf("token for %s: %w", u.Email, err)
		}
		u.Token = res.Token
		return nil
	})
}

// login returns the first n load users' tokens: the ones saved at setup,
// or a password sign-in for users without one.
func login(ctx context.Context, hc *http.Client, baseURL string, acc *accounts, n int) ([]string, error) {
	if len(acc.Users) < n {
		return nil, fmt.Errorf("the accounts file has %d users, %d devices asked: run with --setup", len(acc.Users), n)
	}
	tokens := make([]string, n)
	err := parallel(ctx, 8, n, func(i int) error {
		if acc.Users[i].Token != "" {
			tokens[i] = acc.Users[i].Token
			return nil
		}
		var res struct {
			Token string `json:"token"`
		}
		if err := api(ctx, hc, http.MethodPost, baseURL+"/api/collections/users/auth-with-password", "",
			map[string]string{"identity": acc.Users[i].Email, "password": acc.Password}, &res); err != nil {
			return fmt.Errorf("sign in %s: %w", acc.Users[i].Email, err)
		}
		tokens[i] = res.Token
		return nil
	})
	return tokens, err
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, workers, n int, fn func(int) error) error {
	var mu sync.Mutex
	var first error
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || first != nil || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
