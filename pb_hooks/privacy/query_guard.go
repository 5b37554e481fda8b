package privacy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/ganigeorgiev/fexpr"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
)

// A list filter or sort runs in SQL before any redaction: `?filter=
// clinical_notes~'overdose'` would tell an officer which encounters mention
// an overdose even though the notes themselves are hidden. So a filter or
// sort that touches a field the viewer may not query is refused before the
// query runs, whatever path it takes: a field of the listed collection, a
// relation path (person.display_name), a back-relation
// (encounters_via_person.clinical_notes) or @collection.encounters.….

// CodeFieldNotQueryable is the error code of a refused filter or sort.
const CodeFieldNotQueryable = "field_not_queryable"

var recordsListPath = regexp.MustCompile(`^/api/collections/([^/]+)/records/?$`)

func registerQueryGuard(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.BindFunc(func(e *core.RequestEvent) error {
			if e.Request.Method != http.MethodGet {
				return e.Next()
			}
			m := recordsListPath.FindStringSubmatch(e.Request.URL.Path)
			if m == nil {
				return e.Next()
			}
			q := e.Request.URL.Query()
			if q.Get("filter") == "" && q.Get("sort") == "" {
				return e.Next()
			}
			if err := checkListQuery(e.App, e.Auth, m[1], q.Get("filter"), q.Get("sort")); err != nil {
				return apiError(e, http.StatusBadRequest, CodeFieldNotQueryable, err.Error(), nil)
			}
			return e.Next()
		})
		return se.Next()
	})

	// Realtime subscriptions carry their own filter in the topic options.
	app.OnRealtimeSubscribeRequest().BindFunc(func(e *core.RealtimeSubscribeRequestEvent) error {
		for _, sub := range e.Subscriptions {
			u, err := url.Parse(sub)
			if err != nil {
				continue
			}
			collection, _, _ := strings.Cut(u.Path, "/")
			var opts struct {
				Query map[string]any `json:"query"`
			}
			if raw := u.Query().Get("options"); raw != "" {
				_ = json.Unmarshal([]byte(raw), &opts)
			}
			filter, _ := opts.Query["filter"].(string)
			sort, _ := opts.Query["sort"].(string)
			if filter == "" && sort == "" {
				continue
			}
			if err := checkListQuery(e.App, e.Auth, collection, filter, sort); err != nil {
				return apiError(e.RequestEvent, http.StatusBadRequest, CodeFieldNotQueryable, err.Error(), nil)
			}
		}
		return e.Next()
	})
}

// checkListQuery returns an error naming the first field of filter or sort
// that auth may not query on collection.
func checkListQuery(app core.App, auth *core.Record, collection, filter, sort string) error {
	d, err := DeciderFor(app, auth)
	if err != nil {
		return err
	}
	if d == nil {
		return nil
	}
	coll, err := app.FindCachedCollectionByNameOrId(collection)
	if err != nil {
		return nil // PocketBase answers 404 itself
	}
	var idents []string
	if filter != "" {
		if idents, err = identifiers(filter); err != nil {
			return fmt.Errorf("the filter could not be read: %v", err)
		}
	}
	for _, part := range strings.Split(sort, ",") {
		part = strings.TrimLeft(strings.TrimSpace(part), "+-")
		if part == "" {
			continue
		}
		ids, err := identifiers(part)
		if err != nil {
			return fmt.Errorf("the sort could not be read: %v", err)
		}
		idents = append(idents, ids...)
	}
	for _, id := range idents {
		if c, f, ok := firstUnqueryable(app, d, coll, id); !ok {
			return fmt.Errorf("filtering or sorting on %s.%s is not allowed for your role and agency: it belongs to a protected compartment", c, f)
		}
	}
	return nil
}

// identifiers lists every identifier in a PocketBase filter expression,
// including inside groups and function arguments.
func identifiers(expr string) ([]string, error) {
	var out []string
	var walk func(t fexpr.Token) error
	walk = func(t fexpr.Token) error {
		switch t.Type {
		case fexpr.TokenIdentifier:
			out = append(out, t.Literal)
		case fexpr.TokenGroup:
			ids, err := identifiers(t.Literal)
			if err != nil {
				return err
			}
			out = append(out, ids...)
		case fexpr.TokenFunction:
			args, _ := t.Meta.([]fexpr.Token)
			for _, a := range args {
				if err := walk(a); err != nil {
					return err
				}
			}
		}
		return nil
	}
	s := fexpr.NewScanner([]byte(expr))
	for {
		t, err := s.Scan()
		if err != nil {
			return nil, err
		}
		if t.Type == fexpr.TokenEOF {
			return out, nil
		}
		if err := walk(t); err != nil {
			return nil, err
		}
	}
}

var viaSegment = regexp.MustCompile(`^(\w+)_via_(\w+)$`)

// firstUnqueryable follows an identifier path through relations and reports
// the first (collection, field) the decider refuses.
func firstUnqueryable(app core.App, d *access.Decider, base *core.Collection, ident string) (string, string, bool) {
	segs := strings.Split(ident, ".")
	coll := base
	if strings.HasPrefix(segs[0], "@") {
		if segs[0] != "@collection" || len(segs) < 3 {
			return "", "", true // @request.*, @rowid, @random: not record data
		}
		name, _, _ := strings.Cut(segs[1], ":")
		c, err := app.FindCachedCollectionByNameOrId(name)
		if err != nil {
			return "", "", true
		}
		coll, segs = c, segs[2:]
	}
	for i, seg := range segs {
		name, _, _ := strings.Cut(seg, ":")
		if !d.MayQuery(coll.Name, name) {
			return coll.Name, name, false
		}
		if i == len(segs)-1 {
			break
		}
		if m := viaSegment.FindStringSubmatch(name); m != nil {
			c, err := app.FindCachedCollectionByNameOrId(m[1])
			if err != nil {
				return "", "", true
			}
			coll = c
			continue
		}
		rel, ok := coll.Fields.GetByName(name).(*core.RelationField)
		if !ok {
			break // a JSON path or a modifier on a plain field
		}
		c, err := app.FindCachedCollectionByNameOrId(rel.CollectionId)
		if err != nil {
			return "", "", true
		}
		coll = c
	}
	return "", "", true
}
