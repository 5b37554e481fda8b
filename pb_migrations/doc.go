// Package migrations creates and evolves every Tandem collection: fields,
// indexes and API rules. Each file is one change and is never edited once it
// has shipped; a later change is a new file with a later timestamp.
//
// The package registers its migrations with PocketBase when it is imported,
// so importing it (main.go and the test helpers do) is all it takes.
package migrations
