// Package client is Tandem's reference sync client: the model a mobile team
// follows when building the app's sync layer, and the device the
// simulation tests (sync/sim) and the load tool (cmd/tandem-load) drive.
//
// A Client keeps everything in one local SQLite file (modernc.org/sqlite,
// pure Go), in four tables:
//
//   - records: the server's copy of every record this user may hold, as last
//     pulled, with its version (the change-feed sequence);
//   - queue: local changes not yet acknowledged by the server, oldest first,
//     each with its client-generated mutation id, fields and base version;
//   - results: the server's answer to every acknowledged change, so that
//     rejected changes stay visible (Rejected) instead of vanishing;
//   - meta: the device id, the pull cursor and the last server time.
//
// What the app shows (Get, List) is the server copy with, laid on top, the
// applied changes the pull has not brought back yet and then the queue, so
// offline work is visible at once and does not flicker away between a push
// and the next pull. The pulled copy itself is only ever written by pulls:
// a record is never held locally without the server's feed knowing it.
//
// The rules it follows, from sync/protocol:
//
//  1. Record offline: Create, Update and Delete never touch the network.
//     Each writes one queue row in one local transaction, so a crash never
//     loses an edit the worker saw saved.
//  2. Push (Push): send the queue oldest first in bounded batches. A
//     mutation leaves the queue only when the server has answered it;
//     after a lost answer the same batch is sent again with the same
//     mutation ids, and the server replays the original results.
//  3. Pull (Pull): ask for pages after the stored cursor until HasMore is
//     false. Each page and its cursor are stored in one local transaction,
//     so an interrupted first sync resumes where it stopped.
//  4. Reset or rescope: drop the pulled records (never the queue) and pull
//     from the start.
//  5. Device revoked: erase everything local (records, queue, results,
//     cursor) and report ErrDeviceRevoked; the app must sign out.
//
// Device clocks decide nothing: the client only stores the server's
// versions and sends them back as base versions.
package client
