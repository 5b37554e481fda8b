package server

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// handleInfo serves PathInfo: the versions, collections, policies and
// limits a client must respect. It needs no device and no sign-in, so an
// app can check compatibility before enrolling.
func handleInfo(e *core.RequestEvent) error {
	return e.JSON(http.StatusOK, protocol.ServerInfo{
		ProtocolMin:     protocol.ProtocolMin,
		ProtocolCurrent: protocol.ProtocolCurrent,
		SchemaMin:       protocol.SchemaMin,
		SchemaCurrent:   protocol.SchemaCurrent,
		Collections:     protocol.Collections,
		WritePolicy:     protocol.WritePolicy,
		Limits:          protocol.DefaultLimits,
		TombstoneDays:   int(tombstoneWindow(e.App).Hours() / 24),
	})
}
