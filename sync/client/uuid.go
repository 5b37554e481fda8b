package client

import "github.com/google/uuid"

// NewUUID returns a new time-ordered (version 7, RFC 9562) UUID in the
// lowercase hyphenated form the server requires for record, mutation and
// device ids.
//
// Any UUID is accepted; version 7 is kindest to the hub. Its first bits are
// the time, so ids made one after another sort together, and the server's
// indexes on record and mutation ids grow at one end instead of taking a
// write at a random page each: a 1,000-mutation push of random (version 4)
// ids runs about a third slower (BenchmarkSync, push/1000-per-batch with
// and without -random-ids). The time in an id is when the device made it,
// to the millisecond, which the record's own timestamps already tell.
func NewUUID() string {
	return uuid.Must(uuid.NewV7()).String()
}
