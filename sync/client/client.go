package client

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// Config says where a client keeps its data and how it reaches the server.
type Config struct {
	// BaseURL is the Tandem server, for example "http://127.0.0.1:8090".
	BaseURL string
	// Token is the PocketBase users auth token sent as Authorization. It can
	// be changed later with SetToken (after the app refreshes it).
	Token string
	// StorePath is the SQLite file of this device. It is created if missing.
	StorePath string
	// DeviceID is the install UUID. Empty: the one stored in the file is
	// used, or a new one is generated and stored on first open.
	DeviceID string
	// HTTPClient sends the requests (default: a client with a 60 s timeout).
	// Tests wrap its Transport to lose answers on purpose.
	HTTPClient *http.Client
	// Protocol and Schema are the versions this app speaks (default: the
	// current ones of sync/protocol). An old app sets an older Schema.
	Protocol, Schema int
	// AppVersion is sent for IT staff (optional).
	AppVersion string
	// BatchSize is the most mutations per push (default 500, at most
	// protocol.MaxMutationsPerPush).
	BatchSize int
	// BatchBytes bounds one push body (default 8 MiB).
	BatchBytes int
	// PullLimit is the most changes per pulled page (default: the server's).
	PullLimit int
	// PullMaxBytes bounds one pulled page (default: the server's).
	PullMaxBytes int
	// Now is the device clock, used only for display timestamps (default
	// time.Now). Tests set a wrong clock here: nothing may depend on it.
	Now func() time.Time
}

// Client is one device: a local store and a connection to the server. Its
// methods are safe for concurrent use; syncs are serialised.
type Client struct {
	cfg    Config
	db     *sql.DB
	device string
	syncMu sync.Mutex // one push or pull at a time

	tokenMu sync.RWMutex
	token   string
}

// ErrDeviceRevoked is returned (wrapped around the server's *protocol.Error)
// when the server refused the device as revoked. The client has already
// erased its local data; the app must sign out.
var ErrDeviceRevoked = errors.New("client: this device was revoked; local data erased")

// ErrNotFound is returned by Update and Delete for a record the device does
// not hold.
var ErrNotFound = errors.New("client: no such record on this device")

// New opens the device's store (creating it on first use) and returns a
// client. The server is not contacted.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: BaseURL %q must be an http(s) URL such as http://127.0.0.1:8090", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.StorePath == "" {
		return nil, errors.New("client: StorePath is required (the device's SQLite file)")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Protocol == 0 {
		cfg.Protocol = protocol.ProtocolCurrent
	}
	if cfg.Schema == 0 {
		cfg.Schema = protocol.SchemaCurrent
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > protocol.MaxMutationsPerPush {
		cfg.BatchSize = 500
	}
	if cfg.BatchBytes <= 0 || cfg.BatchBytes > protocol.MaxPushBodyBytes/2 {
		cfg.BatchBytes = 8 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeviceID != "" && !protocol.IsUUID(cfg.DeviceID) {
		return nil, fmt.Errorf("client: DeviceID %q must be a lowercase hyphenated UUID", cfg.DeviceID)
	}
	db, err := openStore(cfg.StorePath)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, db: db, token: cfg.Token}
	ctx := context.Background()
	stored, err := getMeta(ctx, db, metaDevice)
	if err != nil {
		db.Close()
		return nil, err
	}
	switch {
	case cfg.DeviceID != "" && stored != "" && stored != cfg.DeviceID:
		db.Close()
		return nil, fmt.Errorf("client: %s belongs to device %s, not %s", cfg.StorePath, stored, cfg.DeviceID)
	case cfg.DeviceID != "":
		c.device = cfg.DeviceID
	case stored != "":
		c.device = stored
	default:
		c.device = NewUUID()
	}
	if err := setMeta(ctx, db, metaDevice, c.device); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the local store.
func (c *Client) Close() error { return c.db.Close() }

// DeviceID is this install's UUID, sent with every request.
func (c *Client) DeviceID() string { return c.device }

// SetToken replaces the auth token (after the app refreshed it).
func (c *Client) SetToken(token string) {
	c.tokenMu.Lock()
	c.token = token
	c.tokenMu.Unlock()
}

// Cursor is the stored pull cursor ("" before the first page).
func (c *Client) Cursor(ctx context.Context) (string, error) {
	return getMeta(ctx, c.db, metaCursor)
}

// ServerTime is the server clock of the last pulled page (RFC 3339), for
// showing how old local data is ("12 minutes old").
func (c *Client) ServerTime(ctx context.Context) (string, error) {
	return getMeta(ctx, c.db, metaServerTime)
}

// SyncReport sums up one Sync.
type SyncReport struct {
	Push PushReport
	Pull PullReport
}

// Sync pushes the queue, then pulls until caught up: the order an app uses
// when it comes back online (pushing first lets the pull bring back the
// merged records).
func (c *Client) Sync(ctx context.Context) (SyncReport, error) {
	var rep SyncReport
	var err error
	if rep.Push, err = c.Push(ctx); err != nil {
		return rep, err
	}
	rep.Pull, err = c.Pull(ctx)
	return rep, err
}

// Wipe erases every local record, queued change, result and the cursor,
// keeping only the device id. The client does it itself when the server
// says the device was revoked.
func (c *Client) Wipe(ctx context.Context) error {
	return inTx(ctx, c.db, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM records`, `DELETE FROM queue`, `DELETE FROM results`,
			`DELETE FROM meta WHERE key != '` + metaDevice + `'`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Client) now() string { return c.cfg.Now().UTC().Format(time.RFC3339Nano) }
