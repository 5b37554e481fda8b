package server

import (
	"encoding/json"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/subscriptions"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// nudge tells online devices of the given teams to pull now, over
// PocketBase realtime (topic protocol.Topic(team)). Only clients signed in
// as a member of the team receive it, and it carries no record data.
// Correctness never depends on it: devices also pull on their own.
func nudge(app core.App, teams map[string]bool) {
	if len(teams) == 0 {
		return
	}
	for _, chunk := range app.SubscriptionsBroker().ChunkedClients(300) {
		for _, client := range chunk {
			subs := client.Subscriptions(protocol.TopicPrefix)
			if len(subs) == 0 {
				continue
			}
			auth, _ := client.Get(apis.RealtimeClientAuthKey).(*core.Record)
			if auth == nil {
				continue
			}
			member := map[string]bool{}
			for _, t := range auth.GetStringSlice("teams") {
				member[t] = true
			}
			for team := range teams {
				topic := protocol.Topic(team)
				if !member[team] || !client.HasSubscription(topic) {
					continue
				}
				data, _ := json.Marshal(protocol.NudgeMessage{Pull: true, Team: team})
				client.Send(subscriptions.Message{Name: topic, Data: data})
			}
		}
	}
}
