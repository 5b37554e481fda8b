package server

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/sync/changefeed"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// handlePush serves PathPush: a batch of mutations applied together, each
// answered with its own result; a bad one never blocks the rest. Results
// are stored under the mutation id: a replay returns them unchanged and
// changes nothing.
//
// The whole batch commits or none of it does (it is one savepoint of a
// group commit, see committer): a server killed mid-push leaves nothing
// half-applied, and the device's retry is safe.
func (s *service) handlePush(e *core.RequestEvent) error {
	sess, ferr := open(e)
	if ferr != nil {
		return fail(e, ferr)
	}
	var src io.Reader = http.MaxBytesReader(e.Response, e.Request.Body, protocol.MaxPushBodyBytes)
	if strings.EqualFold(e.Request.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(src)
		if err != nil {
			return fail(e, perr(http.StatusBadRequest, protocol.CodeInvalidJSON, "The push body says gzip but is not: %v. Nothing was applied.", err))
		}
		defer gz.Close()
		// The limit applies to the inflated body too: no decompression bombs.
		src = io.LimitReader(gz, protocol.MaxPushBodyBytes+1)
	}
	body, err := io.ReadAll(src)
	if err == nil && len(body) > protocol.MaxPushBodyBytes {
		err = &http.MaxBytesError{Limit: protocol.MaxPushBodyBytes}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(e, perr(http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge,
				"The push body is over %d MiB. Send the queue in smaller batches (at most %d mutations).", protocol.MaxPushBodyBytes>>20, protocol.MaxMutationsPerPush))
		}
		return fail(e, perr(http.StatusBadRequest, protocol.CodeInvalidJSON, "Could not read the push body (connection cut?): %v. Nothing was applied; retry.", err))
	}
	var envelope struct {
		Mutations []json.RawMessage `json:"mutations"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fail(e, perr(http.StatusBadRequest, protocol.CodeInvalidJSON,
			"The push body is not valid JSON (%v). Nothing was applied; send {\"mutations\": [...]}.", err))
	}
	if envelope.Mutations == nil {
		return fail(e, perr(http.StatusBadRequest, protocol.CodeInvalidRequest, "The push body must hold a \"mutations\" list."))
	}
	if len(envelope.Mutations) > protocol.MaxMutationsPerPush {
		return fail(e, perr(http.StatusRequestEntityTooLarge, protocol.CodeBatchTooLarge,
			"%d mutations in one push; send at most %d per push, oldest first.", len(envelope.Mutations), protocol.MaxMutationsPerPush))
	}
	decider, err := access.NewDecider(e.App, sess.viewer)
	if err != nil {
		return fail(e, perr(http.StatusInternalServerError, protocol.CodeInternal, "Could not prepare access decisions: %v", err))
	}

	// Decoding happens here, in the request's goroutine; only the writes
	// wait for the writer.
	batch := parseAll(e.App, envelope.Mutations, sess.schema)
	results := make([]protocol.MutationResult, len(batch))
	var teams map[string]bool
	err = s.commits.do(len(batch), func(tx core.App, st *changefeed.Statements) error {
		feed, err := changefeed.StartDirect(st, sess.device)
		if err != nil {
			return err
		}
		ap := newApplier(tx, st, sess, decider, feed)
		if err := ap.prefetch(batch); err != nil {
			return err
		}
		for i := range batch {
			res, err := ap.apply(&batch[i])
			if err != nil {
				return err
			}
			results[i] = res
		}
		if err := ap.flush(); err != nil {
			return err
		}
		for i := range results {
			ap.versionOf(&results[i])
		}
		if err := sess.touchDevice(st, nil); err != nil {
			return err
		}
		teams = ap.teams
		return feed.Finish()
	})
	if err != nil {
		e.App.Logger().Error("sync push failed", "error", err, "device", sess.device)
		return fail(e, perr(http.StatusInternalServerError, protocol.CodeInternal,
			"The server could not apply this push; nothing of it was kept. Retry the same batch (replays are safe)."))
	}
	nudge(e.App, teams)
	return e.JSON(http.StatusOK, protocol.PushResponse{Protocol: sess.protocol, Schema: sess.schema, Results: results})
}

// parseAll decodes the mutations of a push and checks their fields, spread
// over the cores when there are many: this is a third of a large push's
// work, and it needs no database, so it runs beside the writer.
func parseAll(app core.App, raws []json.RawMessage, schemaVersion int) []parsed {
	batch := make([]parsed, len(raws))
	one := func(i int) {
		batch[i] = parse(raws[i])
		precheck(app, &batch[i], schemaVersion)
	}
	workers := min(runtime.GOMAXPROCS(0), len(raws)/128)
	if workers <= 1 {
		for i := range raws {
			one(i)
		}
		return batch
	}
	var wg sync.WaitGroup
	per := (len(raws) + workers - 1) / workers
	for start := 0; start < len(raws); start += per {
		end := min(start+per, len(raws))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				one(i)
			}
		}()
	}
	wg.Wait()
	return batch
}

// rejectedResult builds a rejection for one mutation.
func rejectedResult(m *protocol.Mutation, pe *protocol.Error) protocol.MutationResult {
	pe.Status = 0
	return protocol.MutationResult{MutationID: m.MutationID, Status: protocol.ResultRejected, Collection: m.Collection, RecordID: m.RecordID, Error: pe}
}

// asProtocolError extracts a rejection from an error returned while
// applying one mutation; ok is false for failures of the server itself.
func asProtocolError(err error) (*protocol.Error, bool) {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

func rejectf(code, field, format string, args ...any) error {
	return &protocol.Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}
