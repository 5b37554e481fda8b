package server

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// kind is how a field is stored and sent.
type kind int

const (
	kText kind = iota // text, select (single), relation (single), date, file (single)
	kNumber
	kBool
	kJSON // json, geo point: raw JSON
	kMulti
	kAutodate
)

// fieldInfo is what sync needs to know about one field.
type fieldInfo struct {
	name  string
	kind  kind
	field core.Field
	re    *regexp.Regexp // text pattern
}

// schema is a collection's fields in declaration order.
type schema struct {
	collection *core.Collection
	fields     []fieldInfo
	byName     map[string]int
	columns    string // quoted column list for SELECT
}

var (
	schemaMu sync.Mutex
	// schemaCache is keyed by the cached collection object: PocketBase
	// replaces it whenever the collection changes, so a stale entry is
	// never found again.
	schemaCache = map[*core.Collection]*schema{}
)

// schemaOf returns the sync view of a collection, cached until it changes.
func schemaOf(app core.App, name string) (*schema, error) {
	c, err := app.FindCachedCollectionByNameOrId(name)
	if err != nil {
		return nil, err
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[c]; ok {
		return s, nil
	}
	if len(schemaCache) > 256 {
		clear(schemaCache) // collections changed many times: start afresh
	}
	s := &schema{collection: c, byName: map[string]int{}}
	cols := make([]string, 0, len(c.Fields))
	for _, f := range c.Fields {
		fi := fieldInfo{name: f.GetName(), field: f, kind: kText}
		switch ff := f.(type) {
		case *core.NumberField:
			fi.kind = kNumber
		case *core.BoolField:
			fi.kind = kBool
		case *core.JSONField, *core.GeoPointField:
			fi.kind = kJSON
		case *core.AutodateField:
			fi.kind = kAutodate
		case *core.TextField:
			if ff.Pattern != "" {
				fi.re, _ = regexp.Compile(ff.Pattern)
			}
		}
		if mv, ok := f.(core.MultiValuer); ok && mv.IsMultiple() {
			fi.kind = kMulti
		}
		s.byName[fi.name] = len(s.fields)
		s.fields = append(s.fields, fi)
		cols = append(cols, "[["+fi.name+"]]")
	}
	s.columns = strings.Join(cols, ", ")
	schemaCache[c] = s
	return s, nil
}

// decode turns a stored column value into the Go value sync works with:
// string, float64, bool, []string or json.RawMessage.
func (f *fieldInfo) decode(v any) any {
	switch f.kind {
	case kNumber:
		switch x := v.(type) {
		case int64:
			return float64(x)
		case float64:
			return x
		case []byte:
			n, _ := strconv.ParseFloat(string(x), 64)
			return n
		case string:
			n, _ := strconv.ParseFloat(x, 64)
			return n
		}
		return float64(0)
	case kBool:
		switch x := v.(type) {
		case int64:
			return x != 0
		case bool:
			return x
		case string:
			return x == "1" || x == "true"
		}
		return false
	case kJSON:
		switch x := v.(type) {
		case nil:
			return json.RawMessage(nil)
		case string:
			if x == "" {
				return json.RawMessage(nil)
			}
			return json.RawMessage(x)
		case []byte:
			return json.RawMessage(append([]byte{}, x...))
		}
		return json.RawMessage(nil)
	case kMulti:
		s := asString(v)
		if s == "" || s == "[]" {
			return []string{}
		}
		if !strings.Contains(s, `\`) {
			if out, ok := fastArray(s); ok {
				return out
			}
		}
		var out []string
		if json.Unmarshal([]byte(s), &out) != nil {
			return []string{}
		}
		return out
	}
	if _, ok := v.(string); ok {
		return v // already boxed: asString would box a copy, once per field of every pulled record
	}
	return asString(v)
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// fastArray parses a JSON array of plain strings without escapes.
func fastArray(s string) ([]string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	if inner == "" {
		return []string{}, true
	}
	parts := strings.Split(inner, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) < 2 || p[0] != '"' || p[len(p)-1] != '"' {
			return nil, false
		}
		out = append(out, p[1:len(p)-1])
	}
	return out, true
}

// storage converts a sync value to what the column stores.
func (f *fieldInfo) storage(v any) any {
	switch f.kind {
	case kMulti:
		arr, _ := v.([]string)
		if arr == nil {
			arr = []string{}
		}
		b, _ := json.Marshal(arr)
		return string(b)
	case kJSON:
		raw, _ := v.(json.RawMessage)
		if len(raw) == 0 || string(raw) == "null" {
			return nil
		}
		return string(raw)
	}
	return v
}

// verr is a field validation failure.
func verr(code, field, format string, args ...any) *protocol.Error {
	return &protocol.Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

var fileNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// validate checks a device's value for the field and returns it as a sync
// value. Relation existence is checked by the caller (it needs the
// transaction).
func (f *fieldInfo) validate(raw json.RawMessage) (any, *protocol.Error) {
	name := f.name
	trimmed := strings.TrimSpace(string(raw))
	isNull := trimmed == "null" || trimmed == ""
	switch ff := f.field.(type) {
	case *core.AutodateField:
		return nil, verr(protocol.CodeFieldReadOnly, name, "%q is set by the server.", name)
	case *core.TextField:
		var s string
		if isNull {
			s = ""
		} else if json.Unmarshal(raw, &s) != nil {
			return nil, verr(protocol.CodeWrongType, name, "%q must be a string.", name)
		}
		max := ff.Max
		if max == 0 {
			max = 5000
		}
		if n := utf8.RuneCountInString(s); n > max {
			return nil, verr(protocol.CodeTooLong, name, "%q is %d characters; at most %d are allowed.", name, n, max)
		}
		if ff.Min > 0 && s != "" && utf8.RuneCountInString(s) < ff.Min {
			return nil, verr(protocol.CodeInvalidValue, name, "%q must be at least %d characters.", name, ff.Min)
		}
		if s != "" && f.re != nil && !f.re.MatchString(s) {
			return nil, verr(protocol.CodeInvalidValue, name, "%q does not have the expected format.", name)
		}
		return s, nil
	case *core.NumberField:
		if isNull {
			return float64(0), nil
		}
		var n float64
		if json.Unmarshal(raw, &n) != nil {
			return nil, verr(protocol.CodeWrongType, name, "%q must be a number.", name)
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, verr(protocol.CodeInvalidValue, name, "%q must be a finite number.", name)
		}
		if ff.OnlyInt && n != math.Trunc(n) {
			return nil, verr(protocol.CodeInvalidValue, name, "%q must be a whole number.", name)
		}
		if ff.Min != nil && n < *ff.Min {
			return nil, verr(protocol.CodeInvalidValue, name, "%q must be at least %v.", name, *ff.Min)
		}
		if ff.Max != nil && n > *ff.Max {
			return nil, verr(protocol.CodeInvalidValue, name, "%q must be at most %v.", name, *ff.Max)
		}
		return n, nil
	case *core.BoolField:
		if isNull {
			return false, nil
		}
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, verr(protocol.CodeWrongType, name, "%q must be true or false.", name)
		}
		return b, nil
	case *core.DateField:
		var s string
		if !isNull && json.Unmarshal(raw, &s) != nil {
			return nil, verr(protocol.CodeWrongType, name, "%q must be a date string such as \"2026-11-20 21:00:00.000Z\".", name)
		}
		if s == "" {
			return "", nil
		}
		dt, err := types.ParseDateTime(s)
		if err != nil || dt.IsZero() {
			return nil, verr(protocol.CodeInvalidValue, name, "%q is not a date: %q. Use UTC, for example \"2026-11-20 21:00:00.000Z\".", name, truncate(s, 40))
		}
		return dt.String(), nil
	case *core.JSONField:
		if isNull {
			return json.RawMessage(nil), nil
		}
		if !json.Valid(raw) {
			return nil, verr(protocol.CodeWrongType, name, "%q must be JSON.", name)
		}
		if int64(len(raw)) > ff.CalculateMaxBodySize() {
			return nil, verr(protocol.CodeTooLong, name, "%q is %d bytes; at most %d are allowed.", name, len(raw), ff.CalculateMaxBodySize())
		}
		return json.RawMessage(append([]byte{}, raw...)), nil
	case *core.GeoPointField:
		if isNull {
			return json.RawMessage(`{"lon":0,"lat":0}`), nil
		}
		var p struct {
			Lon *float64 `json:"lon"`
			Lat *float64 `json:"lat"`
		}
		if json.Unmarshal(raw, &p) != nil || p.Lon == nil || p.Lat == nil {
			return nil, verr(protocol.CodeWrongType, name, "%q must be {\"lon\": number, \"lat\": number}.", name)
		}
		if *p.Lon < -180 || *p.Lon > 180 || *p.Lat < -90 || *p.Lat > 90 {
			return nil, verr(protocol.CodeInvalidValue, name, "%q is outside the map (lon −180..180, lat −90..90).", name)
		}
		b, _ := json.Marshal(map[string]float64{"lon": *p.Lon, "lat": *p.Lat})
		return json.RawMessage(b), nil
	}

	// Select, relation and file fields: one string, or a list of strings.
	var vals []string
	if !isNull {
		if f.kind == kMulti {
			if json.Unmarshal(raw, &vals) != nil {
				var one string
				if json.Unmarshal(raw, &one) != nil {
					return nil, verr(protocol.CodeWrongType, name, "%q must be a list of strings.", name)
				}
				vals = []string{one}
			}
		} else {
			var one string
			if json.Unmarshal(raw, &one) != nil {
				return nil, verr(protocol.CodeWrongType, name, "%q must be a string.", name)
			}
			if one != "" {
				vals = []string{one}
			}
		}
	}
	seen := map[string]bool{}
	uniq := vals[:0]
	for _, v := range vals {
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		uniq = append(uniq, v)
	}
	vals = uniq
	maxSelect := 1
	switch ff := f.field.(type) {
	case *core.SelectField:
		maxSelect = ff.MaxSelect
		for _, v := range vals {
			ok := false
			for _, allowed := range ff.Values {
				if v == allowed {
					ok = true
					break
				}
			}
			if !ok {
				return nil, verr(protocol.CodeInvalidValue, name, "%q cannot be %q; allowed: %s.", name, truncate(v, 40), strings.Join(ff.Values, ", "))
			}
		}
	case *core.RelationField:
		maxSelect = ff.MaxSelect
		for _, v := range vals {
			if len(v) > 64 {
				return nil, verr(protocol.CodeInvalidValue, name, "%q holds an id that is too long.", name)
			}
		}
	case *core.FileField:
		maxSelect = ff.MaxSelect
		for _, v := range vals {
			if !fileNameRe.MatchString(v) {
				return nil, verr(protocol.CodeInvalidValue, name, "%q must name photos uploaded separately (letters, digits, dot, dash, underscore).", name)
			}
		}
	default:
		return nil, verr(protocol.CodeFieldReadOnly, name, "%q cannot be written by devices.", name)
	}
	if maxSelect < 1 {
		maxSelect = 1
	}
	if len(vals) > maxSelect {
		return nil, verr(protocol.CodeTooManyValues, name, "%q holds %d values; at most %d are allowed.", name, len(vals), maxSelect)
	}
	if f.kind == kMulti {
		return append([]string{}, vals...), nil
	}
	if len(vals) == 0 {
		return "", nil
	}
	return vals[0], nil
}

// required reports whether the field must hold a value.
func (f *fieldInfo) required() bool {
	switch ff := f.field.(type) {
	case *core.TextField:
		return ff.Required && !ff.PrimaryKey
	case *core.NumberField:
		return ff.Required
	case *core.BoolField:
		return ff.Required
	case *core.DateField:
		return ff.Required
	case *core.SelectField:
		return ff.Required
	case *core.RelationField:
		return ff.Required
	case *core.JSONField:
		return ff.Required
	case *core.FileField:
		return ff.Required
	case *core.GeoPointField:
		return ff.Required
	}
	return false
}

// isEmptyValue reports whether a sync value counts as "no value".
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case float64:
		return x == 0
	case bool:
		return !x
	case json.RawMessage:
		return len(x) == 0 || string(x) == "null"
	}
	return false
}
