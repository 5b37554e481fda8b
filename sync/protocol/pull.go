package protocol

import "encoding/json"

// PullRequest asks for the changes after Cursor. It is the POST body of
// PathPull; GET takes the same names as query parameters.
type PullRequest struct {
	// Cursor is the cursor of the last page applied; empty for a first sync.
	Cursor string `json:"cursor"`
	// Limit is the most changes per page (default DefaultPullLimit, at most
	// MaxPullLimit).
	Limit int `json:"limit,omitempty"`
	// MaxBytes bounds the page's uncompressed size (default
	// DefaultPullMaxBytes, at most MaxPullMaxBytes). A page holds at least
	// one change however large.
	MaxBytes int `json:"max_bytes,omitempty"`
}

// Pull answer statuses.
const (
	// StatusOK: Changes are the next page; store Cursor after applying them.
	StatusOK = "ok"
	// StatusReset: the cursor is older than the tombstone window (or from
	// before a server restore): drop every pulled record, keep the unpushed
	// queue, pull from the empty cursor.
	StatusReset = "reset"
	// StatusRescope: the user's access changed (teams, role, organisation
	// or a sharing agreement): same handling as StatusReset.
	StatusRescope = "rescope"
)

// PullResponse is one page of changes. The server streams it: fields arrive
// in the order below and Cursor and HasMore come last.
type PullResponse struct {
	Protocol int    `json:"protocol"`
	Schema   int    `json:"schema"`
	Status   string `json:"status"`
	// Reason explains a reset or rescope, for logs and support.
	Reason string `json:"reason,omitempty"`
	// ServerTime is the server clock when the page was read (RFC 3339), for
	// showing ages ("12 minutes old"); never for deciding anything.
	ServerTime string `json:"server_time"`
	// Changes are in feed order (ascending Seq).
	Changes []Change `json:"changes"`
	// Cursor is where the next pull starts. Store it only after every change
	// of this page is applied locally.
	Cursor string `json:"cursor"`
	// HasMore is true when more changes are waiting: pull again now.
	HasMore bool `json:"has_more"`
}

// Change operations in a pull.
const (
	// OpUpsert: create or replace the local record with Record. Fields
	// missing from Record are hidden from this user: remove them locally.
	OpUpsert = "upsert"
	// OpDelete: the record was deleted: remove it locally.
	OpDelete = "delete"
	// OpEvict: the record still exists but this user may no longer hold it
	// (team change, consent revoked, merge, retention purge): remove it
	// locally. Not an error; unpushed edits to it will be answered by push.
	OpEvict = "evict"
)

// Change reasons.
const (
	// ReasonWrite: a normal create or update.
	ReasonWrite = "write"
	// ReasonAccess: access to the record changed (consent, retention,
	// merge), its content may not have.
	ReasonAccess = "access"
	// ReasonDeleted: the record was deleted.
	ReasonDeleted = "deleted"
)

// Change is one record's latest state in the feed.
type Change struct {
	// Seq is the record's version: the server sequence of its latest
	// change. Send it back as Mutation.BaseVersion when editing the record.
	Seq        int64  `json:"seq"`
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Op         string `json:"op"`
	Reason     string `json:"reason,omitempty"`
	// Record holds the visible fields (for OpUpsert only), already redacted
	// for this user and reduced to the device's schema version. Relation
	// fields hold ids; multi-valued fields are arrays; dates are
	// "YYYY-MM-DD HH:MM:SS.sssZ" (UTC) or "".
	Record json.RawMessage `json:"record,omitempty"`
}
