package server_test

import (
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// recordSchema renders a collection as the JSON Schema (2020-12) of a
// record as a device receives it in a pull at the current schema version.
func recordSchema(name string, c *core.Collection) map[string]any {
	props := map[string]any{}
	var createRequired []string
	comps := access.FieldCompartments[name]
	for _, f := range c.Fields {
		p := map[string]any{}
		multi := false
		if mv, ok := f.(core.MultiValuer); ok {
			multi = mv.IsMultiple()
		}
		item := map[string]any{}
		switch ff := f.(type) {
		case *core.TextField:
			max := ff.Max
			if max == 0 {
				max = 5000
			}
			p["type"], p["maxLength"] = "string", max
			if ff.Pattern != "" {
				p["pattern"] = ff.Pattern
			}
			if ff.Required && !ff.PrimaryKey {
				createRequired = append(createRequired, ff.Name)
			}
			p["description"] = ff.Help
		case *core.NumberField:
			p["type"] = "number"
			if ff.OnlyInt {
				p["type"] = "integer"
			}
			if ff.Min != nil {
				p["minimum"] = *ff.Min
			}
			if ff.Max != nil {
				p["maximum"] = *ff.Max
			}
			if ff.Required {
				createRequired = append(createRequired, ff.Name)
			}
			p["description"] = ff.Help
		case *core.BoolField:
			p["type"] = "boolean"
			p["description"] = ff.Help
		case *core.DateField:
			p["type"], p["description"] = "string", ff.Help+" UTC, \"YYYY-MM-DD HH:MM:SS.sssZ\", or \"\" when unset."
			if ff.Required {
				createRequired = append(createRequired, ff.Name)
			}
		case *core.AutodateField:
			p["type"], p["readOnly"], p["description"] = "string", true, "Set by the server (UTC)."
		case *core.SelectField:
			values := append([]any{}, toAny(ff.Values)...)
			if multi {
				p["type"], p["items"], p["maxItems"] = "array", map[string]any{"enum": values}, ff.MaxSelect
			} else {
				p["enum"] = append(values, "")
			}
			if ff.Required {
				createRequired = append(createRequired, ff.Name)
			}
			p["description"] = ff.Help
		case *core.RelationField:
			item["type"] = "string"
			if multi {
				p["type"], p["items"], p["maxItems"] = "array", item, ff.MaxSelect
			} else {
				p["type"] = "string"
			}
			if ff.Required {
				createRequired = append(createRequired, ff.Name)
			}
			p["description"] = ff.Help + " (record id)"
		case *core.FileField:
			item["type"] = "string"
			if multi {
				p["type"], p["items"], p["maxItems"] = "array", item, ff.MaxSelect
			} else {
				p["type"] = "string"
			}
			p["description"] = ff.Help + " (file names; photos travel separately, see PHOTOS.md)"
		case *core.JSONField:
			p["description"] = ff.Help + " (any JSON)"
		case *core.GeoPointField:
			p["type"] = "object"
			p["properties"] = map[string]any{"lon": map[string]any{"type": "number", "minimum": -180, "maximum": 180}, "lat": map[string]any{"type": "number", "minimum": -90, "maximum": 90}}
			p["required"] = []string{"lon", "lat"}
			p["description"] = ff.Help
		default:
			p["description"] = "Server field."
		}
		if comp, ok := comps[f.GetName()]; ok {
			p["x-compartment"] = string(comp)
		}
		if !protocol.InSchema(protocol.SchemaMin, name, f.GetName()) {
			p["x-since-schema"] = protocol.SchemaCurrent
		}
		props[f.GetName()] = p
	}
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://tandem.invalid/mobile-contract/schemas/" + name + ".json",
		"title":                name,
		"description":          "A " + name + " record as a device receives it in a pull (schema version 2). A field the user may not see is absent; x-compartment names the privacy compartment that decides it. Generated from the live collection by TestRecordSchemas.",
		"type":                 "object",
		"required":             []string{"id"},
		"properties":           props,
		"additionalProperties": false,
		"x-write-policy":       protocol.WritePolicy[name],
		"x-required-on-create": createRequired,
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
