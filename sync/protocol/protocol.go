package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HTTP paths of the sync endpoints.
const (
	// PathPull answers the changes after a cursor (GET with query
	// parameters, or POST with a PullRequest body).
	PathPull = "/api/sync/v1/pull"
	// PathPush applies a batch of mutations (POST with a PushRequest body).
	PathPush = "/api/sync/v1/push"
	// PathInfo describes what the server supports (GET, no device needed).
	PathInfo = "/api/sync/v1/info"
)

// Request headers every sync request carries.
const (
	// HeaderProtocol is the sync protocol version the device speaks.
	HeaderProtocol = "X-Tandem-Protocol"
	// HeaderSchema is the record schema version the device stores.
	HeaderSchema = "X-Tandem-Schema"
	// HeaderDevice is the device's install UUID (lowercase, hyphenated).
	HeaderDevice = "X-Tandem-Device"
	// HeaderAppVersion is the app build, free text, for IT staff (optional).
	HeaderAppVersion = "X-Tandem-App-Version"
)

// Protocol versions. The protocol version covers the envelope (paths,
// headers, request and response bodies, cursor, codes).
const (
	ProtocolCurrent = 1
	// ProtocolMin is the oldest protocol version the server still serves.
	ProtocolMin = 1
)

// Record schema versions. The schema version covers which collections and
// fields a device stores. The server keeps serving SchemaMin..SchemaCurrent:
// a device on an older schema receives only the fields its schema knows
// (see FieldsOfSchema) and may push only those.
const (
	// SchemaCurrent is the schema of this server build: every field of every
	// synced collection.
	SchemaCurrent = 2
	// SchemaMin is the oldest schema still served: the fields listed in
	// Schema1Fields.
	SchemaMin = 1
)

// Topic is the PocketBase realtime topic that nudges the devices of a team
// to pull now. Subscribe through PocketBase realtime (/api/realtime) with
// the user's token; the message carries no record data, only NudgeMessage.
func Topic(teamID string) string { return "tandem/sync/" + teamID }

// TopicPrefix is the common prefix of all sync nudge topics.
const TopicPrefix = "tandem/sync/"

// NudgeMessage is the body of a realtime nudge: "something changed for this
// team, pull when you can". Correctness never depends on it.
type NudgeMessage struct {
	Pull bool   `json:"pull"`
	Team string `json:"team"`
}

// Synced collections, in the order a device should create its local tables
// (referenced collections first). Other collections never leave the server.
var Collections = []string{
	"organizations", "teams", "sharing_agreements", "shelters", "bed_programs",
	"persons", "consents", "encounters", "referrals", "followups", "bed_holds",
	"conflicts",
}

// Write policies of a collection for devices.
const (
	// PolicyFieldMerge: field-level merge with server versions (persons,
	// encounters, referrals, consents, followups; followups.status only
	// moves forward).
	PolicyFieldMerge = "field_merge"
	// PolicyServerAuthoritative: the device asks, the server decides
	// (bed_holds); the result carries the server's record.
	PolicyServerAuthoritative = "server_authoritative"
	// PolicyAppendOnly: create only (audit_events from devices).
	PolicyAppendOnly = "append_only"
	// PolicyReadOnly: devices may not write at all.
	PolicyReadOnly = "read_only"
)

// WritePolicy says how pushes to each collection are treated. A collection
// not listed is unknown to sync (pushes are rejected with CodeUnknownCollection).
var WritePolicy = map[string]string{
	"persons":            PolicyFieldMerge,
	"encounters":         PolicyFieldMerge,
	"referrals":          PolicyFieldMerge,
	"followups":          PolicyFieldMerge,
	"consents":           PolicyFieldMerge,
	"bed_holds":          PolicyServerAuthoritative,
	"audit_events":       PolicyAppendOnly,
	"organizations":      PolicyReadOnly,
	"teams":              PolicyReadOnly,
	"shelters":           PolicyReadOnly,
	"bed_programs":       PolicyReadOnly,
	"sharing_agreements": PolicyReadOnly,
	"conflicts":          PolicyReadOnly,
	"users":              PolicyReadOnly,
	"devices":            PolicyReadOnly,
}

// NotesFields are free-text fields: when two devices edit one concurrently,
// the server keeps both texts (the later arrival is appended after
// NotesSeparator) instead of opening a conflict.
var NotesFields = map[string][]string{
	"encounters": {"general_notes", "clinical_notes", "part2_notes"},
	"referrals":  {"notes"},
	"followups":  {"notes"},
}

// NotesSeparator joins two concurrently edited note texts.
const NotesSeparator = "\n\n--- merged from another device ---\n"

// ServerFields are written by the server only; a mutation that sets one is
// rejected with CodeFieldReadOnly.
var ServerFields = map[string][]string{
	"*":         {"created", "updated"},
	"bed_holds": {"held_until", "decided_at", "reason"},
	// Merging persons moves their encounters, referrals and follow-ups too
	// and must be undoable, so only the merge route sets the link.
	"persons": {"merged_into"},
}

// Schema1Fields are the fields of each synced collection in schema version 1
// (the first release). A device on schema 1 receives only these fields, and
// fields added later are unknown to it. Every field of the current server is
// in schema 2.
var Schema1Fields = map[string][]string{
	"organizations":      {"id", "name", "kind", "hmis_org_id", "created", "updated"},
	"teams":              {"id", "name", "area", "active", "created", "updated"},
	"persons":            {"id", "display_name", "name_quality", "aliases", "birth_year", "birth_year_quality", "hmis_id", "photo", "teams", "merged_into", "created", "updated"},
	"encounters":         {"id", "person", "team", "occurred_at", "location", "location_note", "living_situation", "encounter_type", "disposition", "needs", "services_offered", "general_notes", "clinical_notes", "part2_notes", "police_incident_ref", "photos", "recorded_by", "created", "updated"},
	"referrals":          {"id", "person", "encounter", "team", "event_code", "target_program", "status", "result", "result_date", "notes", "created_by", "created", "updated"},
	"followups":          {"id", "person", "encounter", "referral", "team", "assignee", "due_at", "status", "attempts", "notes", "created_by", "created", "updated"},
	"consents":           {"id", "person", "compartments", "recipients", "purpose", "method", "status", "valid_from", "valid_until", "revoked_at", "document", "recorded_by", "team", "created", "updated"},
	"sharing_agreements": {"id", "name", "data_owner_kind", "recipient_kind", "compartments", "purpose", "valid_from", "valid_until", "document", "created", "updated"},
	"shelters":           {"id", "organization", "name", "address", "location", "confidential_location", "phone", "created", "updated"},
	"bed_programs":       {"id", "shelter", "name", "population", "constraints", "total_beds", "occupied", "out_of_service", "hold_minutes", "accepting", "status", "counts_updated_at", "counts_updated_by", "created", "updated"},
	"bed_holds":          {"id", "program", "person", "team", "requested_by", "requested_at", "status", "held_until", "decided_at", "reason", "created", "updated"},
	"conflicts":          {"id", "collection", "record_id", "field", "base_value", "device_value", "server_value", "chosen_value", "status", "team", "device", "mutation_id", "resolved_by", "resolved_at", "created", "updated"},
	"audit_events":       {"actor", "device", "action", "collection", "record_id", "fields", "details"},
}

// InSchema reports whether field of collection exists for a device on
// schema version v. For the current schema every field exists.
func InSchema(v int, collection, field string) bool {
	if v >= SchemaCurrent {
		return true
	}
	for _, f := range Schema1Fields[collection] {
		if f == field {
			return true
		}
	}
	return false
}

// IsUUID reports whether s is a lowercase hyphenated UUID
// (8-4-4-4-12 lowercase hex digits), the only format of record ids,
// mutation ids and device ids. It runs several times per pushed mutation,
// so it is a plain loop rather than a regular expression.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// Limits the server enforces. A client should stay under them; the server
// answers each breach with its own code.
const (
	// MaxMutationsPerPush is the most mutations one push may carry
	// (CodeBatchTooLarge beyond).
	MaxMutationsPerPush = 1000
	// MaxPushBodyBytes is the largest push body accepted (HTTP 413,
	// CodeBodyTooLarge beyond). Keep batches well under it.
	MaxPushBodyBytes = 64 << 20
	// MaxMutationBytes is the largest encoded mutation; a bigger one is
	// rejected alone with CodeMutationTooLarge and the rest of the batch
	// lands.
	MaxMutationBytes = 1 << 20
	// DefaultPullLimit is the page size in changes when the request sets none.
	DefaultPullLimit = 1000
	// MaxPullLimit caps the page size in changes.
	MaxPullLimit = 5000
	// DefaultPullMaxBytes is the page size in bytes (uncompressed JSON) when
	// the request sets none. A page may exceed it by at most one change.
	DefaultPullMaxBytes = 2 << 20
	// MaxPullMaxBytes caps the page size in bytes.
	MaxPullMaxBytes = 16 << 20
)

// Cursor is a position in the server's change feed. On the wire it is an
// opaque string: devices store it and send it back unchanged. The empty
// string means "from the beginning".
//
// Inside, it holds the last sequence number the device has received and a
// fingerprint of the access scope (role, teams, organisation, access
// epoch) it was issued under: when the user's scope changes, the server
// sees a different fingerprint and answers "rescope".
type Cursor struct {
	Seq   int64
	Scope string // 16 hex digits
}

// cursorPrefix versions the cursor format itself.
const cursorPrefix = "c1."

// String encodes the cursor for the wire.
func (c Cursor) String() string {
	if c.Seq == 0 && c.Scope == "" {
		return ""
	}
	return cursorPrefix + strconv.FormatInt(c.Seq, 10) + "." + c.Scope
}

// ErrBadCursor is returned by ParseCursor for a string no server issued.
var ErrBadCursor = errors.New("cursor was not issued by this server")

// ParseCursor decodes a wire cursor. The empty string is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return Cursor{}, ErrBadCursor
	}
	seqStr, scope, ok := strings.Cut(rest, ".")
	if !ok || len(scope) != 16 {
		return Cursor{}, ErrBadCursor
	}
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if err != nil || seq < 0 {
		return Cursor{}, ErrBadCursor
	}
	for _, r := range scope {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return Cursor{}, ErrBadCursor
		}
	}
	return Cursor{Seq: seq, Scope: scope}, nil
}

// Error is the body of every non-2xx sync answer, and the shape of a
// rejected mutation's reason. Code is stable and machine-readable; Message
// is for people (the outreach worker, IT staff, the mobile developer).
type Error struct {
	Status  int    `json:"status,omitempty"` // HTTP status, for whole-request errors
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the offending field, when there is one.
	Field string `json:"field,omitempty"`
	// Wipe is true only with CodeDeviceRevoked: the app must erase every
	// local record and credential now.
	Wipe bool `json:"wipe,omitempty"`
	// Min and Max are the supported version range, with version codes.
	Min int `json:"min,omitempty"`
	Max int `json:"max,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// ServerInfo is the body of GET PathInfo.
type ServerInfo struct {
	ProtocolMin     int               `json:"protocol_min"`
	ProtocolCurrent int               `json:"protocol_current"`
	SchemaMin       int               `json:"schema_min"`
	SchemaCurrent   int               `json:"schema_current"`
	Collections     []string          `json:"collections"`
	WritePolicy     map[string]string `json:"write_policy"`
	Limits          Limits            `json:"limits"`
	// TombstoneDays is how long deletions are remembered: a device offline
	// longer than this is answered "reset" on its next pull.
	TombstoneDays int `json:"tombstone_days"`
}

// Limits are the server's size limits, as published by PathInfo.
type Limits struct {
	MaxMutationsPerPush int `json:"max_mutations_per_push"`
	MaxPushBodyBytes    int `json:"max_push_body_bytes"`
	MaxMutationBytes    int `json:"max_mutation_bytes"`
	DefaultPullLimit    int `json:"default_pull_limit"`
	MaxPullLimit        int `json:"max_pull_limit"`
	DefaultPullMaxBytes int `json:"default_pull_max_bytes"`
	MaxPullMaxBytes     int `json:"max_pull_max_bytes"`
}

// DefaultLimits are the limits above, as a value.
var DefaultLimits = Limits{
	MaxMutationsPerPush: MaxMutationsPerPush,
	MaxPushBodyBytes:    MaxPushBodyBytes,
	MaxMutationBytes:    MaxMutationBytes,
	DefaultPullLimit:    DefaultPullLimit,
	MaxPullLimit:        MaxPullLimit,
	DefaultPullMaxBytes: DefaultPullMaxBytes,
	MaxPullMaxBytes:     MaxPullMaxBytes,
}
