// Package protocol defines Tandem's sync wire contract: the HTTP paths and
// headers, the protocol and record-schema versions the server accepts, the
// pull and push request and response bodies, the opaque cursor, and every
// machine-readable error code.
//
// It imports nothing from the server, so a reference client (sync/client),
// the simulation (sync/sim) and the server (sync/server) share one
// definition, and mobile-contract/PROTOCOL.md describes exactly these types.
//
// The shape of a sync session:
//
//  1. The device sends every request with an Authorization header (a
//     PocketBase users token) and the headers X-Tandem-Protocol,
//     X-Tandem-Schema and X-Tandem-Device (a UUID the app generates once per
//     install). The server enrols an unknown device on first sight.
//  2. Push: POST PathPush with a batch of mutations from the device's queue,
//     oldest first. Every mutation has a client-generated MutationID; the
//     server stores each result under that id, so replaying a batch (for
//     example after a lost answer) returns the original results and changes
//     nothing. The device removes a mutation from its queue only once it has
//     a result for it (applied, merged, conflict or rejected).
//  3. Pull: POST (or GET) PathPull with the last cursor, repeatedly, until
//     HasMore is false. Each page carries its own cursor: store it after
//     applying the page, so a first sync resumes page by page.
//  4. If a pull answers Status "reset" or "rescope", the device drops every
//     pulled record (it keeps its unpushed queue), and pulls again from the
//     empty cursor.
//
// Device clocks are never used to decide anything: versions are server
// sequence numbers.
package protocol
