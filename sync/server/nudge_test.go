package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// subscribe opens a PocketBase realtime connection, subscribes it to topic
// with token, and returns the stream of events.
func subscribe(t *testing.T, base, token, topic string) <-chan sseEvent {
	t.Helper()
	res, err := http.Get(base + "/api/realtime")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	events := make(chan sseEvent, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				ev.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				ev.data = strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			case line == "":
				if ev.name != "" {
					events <- ev
				}
				ev = sseEvent{}
			}
		}
	}()
	var connect sseEvent
	select {
	case connect = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no PB_CONNECT event")
	}
	var hello struct {
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal([]byte(connect.data), &hello); err != nil || hello.ClientID == "" {
		t.Fatalf("PB_CONNECT: %+v", connect)
	}
	body, _ := json.Marshal(map[string]any{"clientId": hello.ClientID, "subscriptions": []string{topic}})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/realtime", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	sub, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sub.Body.Close()
	if sub.StatusCode != http.StatusNoContent {
		t.Fatalf("subscribe: %d", sub.StatusCode)
	}
	return events
}

// After a push commits, online devices of the team are nudged to pull;
// a member of another team subscribing to the topic hears nothing.
func TestRealtimeNudgeAfterPush(t *testing.T) {
	w := newWorld(t)
	topic := protocol.Topic(w.north.Id)
	member := subscribe(t, w.env.URL, w.env.Token(t, w.officer), topic)
	outsider := subscribe(t, w.env.URL, w.env.Token(t, w.southWorker), topic)

	newDevice(t, w.env, w.worker).push(t, create(t, "encounters", newUUID(), map[string]any{
		"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach", "general_notes": "secret words"}))

	select {
	case ev := <-member:
		var msg protocol.NudgeMessage
		if ev.name != topic || json.Unmarshal([]byte(ev.data), &msg) != nil || !msg.Pull || msg.Team != w.north.Id {
			t.Fatalf("unexpected nudge %+v", ev)
		}
		if strings.Contains(ev.data, "secret") {
			t.Fatal("a nudge must carry no record data")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the team's device was not nudged")
	}
	select {
	case ev := <-outsider:
		t.Fatalf("a user of another team was nudged: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}
