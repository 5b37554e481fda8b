package protocol

import "encoding/json"

// Mutation operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	// OpDeleteRecord deletes a record (team leads only, as in the records
	// API). It is spelled "delete" on the wire, like OpDelete in a pull.
	OpDeleteRecord = "delete"
)

// PushRequest is the body of PathPush.
type PushRequest struct {
	// Mutations in the order the device made them. Later mutations may
	// reference records created by earlier ones in the same batch.
	Mutations []Mutation `json:"mutations"`
}

// Mutation is one change made on the device.
type Mutation struct {
	// MutationID is a UUID the device generates when the change is made and
	// keeps across retries: it makes replays harmless.
	MutationID string `json:"mutation_id"`
	Collection string `json:"collection"`
	// RecordID is the record's UUID (generated on the device for creates).
	RecordID string `json:"record_id"`
	Op       string `json:"op"`
	// Fields are the changed fields only (all fields for a create). Values
	// use the same JSON types as a pulled Change.Record.
	Fields map[string]json.RawMessage `json:"fields,omitempty"`
	// BaseVersion is the Seq of the record as the device last pulled it
	// (0 for a record the device created and has not pulled back yet).
	// A field changed on the server after BaseVersion by another device or
	// user is a concurrent edit.
	BaseVersion int64 `json:"base_version"`
	// BaseVersions optionally overrides BaseVersion per field, for devices
	// that track versions per field.
	BaseVersions map[string]int64 `json:"base_versions,omitempty"`
	// BaseValues optionally holds the values the edited fields had before
	// the device's edit; they are stored in any conflict for the team lead.
	BaseValues map[string]json.RawMessage `json:"base_values,omitempty"`
}

// PushResponse answers a push: one result per mutation, in request order.
type PushResponse struct {
	Protocol int              `json:"protocol"`
	Schema   int              `json:"schema"`
	Results  []MutationResult `json:"results"`
}

// Mutation result statuses. Every status except none is final: the device
// removes the mutation from its queue.
const (
	// ResultApplied: the change landed as sent.
	ResultApplied = "applied"
	// ResultMerged: the change landed, combined with concurrent changes
	// (notes kept side by side, multi-values united, a follow-up status that
	// did not move backwards). Pull to see the merged record.
	ResultMerged = "merged"
	// ResultConflict: at least one field was changed concurrently by someone
	// else; the server kept a deterministic winner and opened the conflicts
	// in ConflictIDs for a team lead. Non-conflicting fields landed.
	ResultConflict = "conflict"
	// ResultRejected: nothing landed; Error says why.
	ResultRejected = "rejected"
)

// MutationResult is the server's answer to one mutation. A replayed
// mutation gets its original result, byte for byte.
type MutationResult struct {
	MutationID string `json:"mutation_id"`
	Status     string `json:"status"`
	Collection string `json:"collection,omitempty"`
	RecordID   string `json:"record_id,omitempty"`
	// Version is the record's new Seq after this mutation (absent when
	// rejected).
	Version int64 `json:"version,omitempty"`
	// Error is set when Status is ResultRejected.
	Error *Error `json:"error,omitempty"`
	// MergedFields lists fields whose stored value differs from what the
	// device sent (merged or kept by policy).
	MergedFields []string `json:"merged_fields,omitempty"`
	// ConflictIDs are the conflicts records opened (ResultConflict).
	ConflictIDs []string `json:"conflict_ids,omitempty"`
	// Record is the server's state of the record after the mutation, for
	// server-authoritative collections (bed holds: granted or refused, with
	// the reason), redacted like a pull.
	Record json.RawMessage `json:"record,omitempty"`
}
