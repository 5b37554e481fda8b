package protocol

// Whole-request error codes (the request is refused; nothing was applied).
const (
	// CodeUnauthenticated: no or invalid Authorization token (401).
	CodeUnauthenticated = "unauthenticated"
	// CodeForbiddenRole: the user's role does not sync (housing agents,
	// privacy officers and analysts use their own pages) (403).
	CodeForbiddenRole = "role_cannot_sync"
	// CodeDeviceMissing: no X-Tandem-Device header, or not a UUID (400).
	CodeDeviceMissing = "device_id_invalid"
	// CodeDeviceRevoked: the device was revoked (lost or stolen); the app
	// must wipe itself. Error.Wipe is true (403).
	CodeDeviceRevoked = "device_revoked"
	// CodeDeviceOtherUser: the device id is enrolled to another user. Sign
	// the other user out on this device or re-install (403).
	CodeDeviceOtherUser = "device_belongs_to_other_user"
	// CodeVersionMissing: X-Tandem-Protocol or X-Tandem-Schema is absent or
	// not a number (400).
	CodeVersionMissing = "version_missing"
	// CodeProtocolTooOld: the app speaks a protocol the server no longer
	// serves; update the app (426).
	CodeProtocolTooOld = "protocol_too_old"
	// CodeProtocolUnknown: the app speaks a newer protocol than this server
	// knows; the server must be upgraded first (400).
	CodeProtocolUnknown = "protocol_unknown"
	// CodeSchemaTooOld: the app's record schema is no longer served; update
	// the app (426).
	CodeSchemaTooOld = "schema_too_old"
	// CodeSchemaUnknown: the app's record schema is newer than this server
	// knows (400).
	CodeSchemaUnknown = "schema_unknown"
	// CodeInvalidJSON: the body is not valid JSON (truncated, wrong types in
	// the envelope). Nothing was applied; fix the request and retry (400).
	CodeInvalidJSON = "invalid_json"
	// CodeInvalidRequest: a request parameter is wrong (400).
	CodeInvalidRequest = "invalid_request"
	// CodeBadCursor: the cursor was not issued by this server (400). Pull
	// again from the empty cursor.
	CodeBadCursor = "cursor_invalid"
	// CodeBatchTooLarge: more than MaxMutationsPerPush mutations (413).
	CodeBatchTooLarge = "batch_too_large"
	// CodeBodyTooLarge: the body is over MaxPushBodyBytes (413).
	CodeBodyTooLarge = "body_too_large"
	// CodeInternal: the server failed; the push was rolled back as a whole
	// and may be retried safely (500).
	CodeInternal = "internal_error"
)

// Per-mutation rejection codes (in MutationResult.Error). A rejected
// mutation changed nothing; the others in the batch are unaffected.
const (
	// CodeInvalidMutation: the mutation envelope is malformed (missing op,
	// fields not an object, ...).
	CodeInvalidMutation = "invalid_mutation"
	// CodeInvalidMutationID: mutation_id is not a UUID.
	CodeInvalidMutationID = "mutation_id_invalid"
	// CodeInvalidRecordID: record_id is not a lowercase hyphenated UUID.
	CodeInvalidRecordID = "record_id_invalid"
	// CodeUnknownCollection: the collection does not exist or does not sync.
	CodeUnknownCollection = "unknown_collection"
	// CodeReadOnlyCollection: devices may not write this collection.
	CodeReadOnlyCollection = "read_only_collection"
	// CodeAppendOnly: the collection accepts creates only.
	CodeAppendOnly = "append_only"
	// CodeUnknownOp: op is not create, update or delete.
	CodeUnknownOp = "unknown_op"
	// CodeUnknownField: a field the collection (at the device's schema
	// version) does not have.
	CodeUnknownField = "unknown_field"
	// CodeFieldReadOnly: the field is written by the server only.
	CodeFieldReadOnly = "field_read_only"
	// CodeWrongType: the value has the wrong JSON type for the field.
	CodeWrongType = "wrong_type"
	// CodeInvalidValue: right type, wrong value (not a select option, out of
	// range, bad date, not matching the pattern...).
	CodeInvalidValue = "invalid_value"
	// CodeRequired: a required field is missing or empty.
	CodeRequired = "required"
	// CodeTooLong: a text is longer than its field allows.
	CodeTooLong = "too_long"
	// CodeTooManyValues: a multi-value field has more values than allowed.
	CodeTooManyValues = "too_many_values"
	// CodeMutationTooLarge: the encoded mutation is over MaxMutationBytes.
	CodeMutationTooLarge = "mutation_too_large"
	// CodeRelationMissing: a relation points to a record that does not exist
	// (and was not created earlier in the same batch).
	CodeRelationMissing = "relation_missing"
	// CodeForbidden: the user may not write this record (not their team, or
	// the role may not do this).
	CodeForbidden = "forbidden"
	// CodeNotFound: update or delete of a record the server does not have.
	CodeNotFound = "not_found"
	// CodeRecordDeleted: update of a record that was deleted meanwhile. The
	// device's values are kept in the audit trail, not applied.
	CodeRecordDeleted = "record_deleted"
	// CodeServerAuthoritative: the device tried to set a value only the
	// server decides (for example a bed hold's status).
	CodeServerAuthoritative = "server_authoritative"
	// CodeValidationFailed: the server's own record validation refused the
	// write (server-authoritative collections); Message says why.
	CodeValidationFailed = "validation_failed"
	// CodeDuplicateMutation: the same mutation_id appears with a different
	// collection or record than the one it was first seen with.
	CodeDuplicateMutation = "mutation_id_reused"
	// CodeCompartmentWriteForbidden: the mutation changes a field in a
	// compartment the user may not see (an officer and clinical notes). The
	// records API refuses the same write with the same code. Sending a hidden
	// field back unchanged is not refused.
	CodeCompartmentWriteForbidden = "compartment_write_forbidden"
)
