package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/httpserver"
)

// bindJSON is httpserver.BindJSON with one more rule for this package's
// bodies: encoding/json matches a key to a struct field ignoring letter case,
// so {"title":"a","Title":"b"} gives title twice and keeps the last. Such a
// body is refused with 400 naming the field, like an exact duplicate key.
func bindJSON(c *gin.Context, v any) bool {
	if !httpserver.JSONContentType(c) {
		return false
	}
	if c.Request.Body != nil {
		data, err := io.ReadAll(c.Request.Body)
		if err != nil {
			httpserver.BodyReadError(c, err)
			return false
		}
		if field := foldedDuplicate(data, reflect.TypeOf(v)); field != "" {
			httpserver.FieldError(c, http.StatusBadRequest, "invalid_body", field, duplicateMessage(field))
			return false
		}
		if field, err := badTime(data, reflect.TypeOf(v)); field != "" {
			httpserver.FieldError(c, http.StatusBadRequest, "invalid_body", field,
				fmt.Sprintf("field %q: expected a time in RFC 3339 form such as 2026-01-02T15:04:05Z: %v", field, err))
			return false
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(data))
	}
	return httpserver.BindJSON(c, v)
}

var timeType = reflect.TypeFor[time.Time]()

// badTime returns the name of a time field of t (a struct, or a pointer to
// one) whose value in the JSON object data does not decode as a time, and
// why: decoding would refuse it without naming the field.
func badTime(data []byte, t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var obj map[string]json.RawMessage
	if t.Kind() != reflect.Struct || json.Unmarshal(data, &obj) != nil {
		return "", nil
	}
	fields := jsonFields(t)
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		f, ok := matchField(fields, k)
		ft := f.typ
		for ok && ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if !ok || ft != timeType {
			continue
		}
		var tm time.Time
		if err := json.Unmarshal(obj[k], &tm); err != nil {
			return f.name, err
		}
	}
	return "", nil
}

func duplicateMessage(field string) string {
	return fmt.Sprintf("field %q is given more than once (keys that differ only in letter case name the same field)", field)
}

// foldedDuplicate returns the dotted name of a field of t (a struct, or a
// pointer to one) that two keys of the JSON object data name, matched the way
// encoding/json matches them (an exact match, else one equal under Unicode
// case folding), looking into nested structs too; "" when there is none, and
// when data is not an object (decoding reports that).
func foldedDuplicate(data []byte, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return ""
	}
	fields := jsonFields(t)
	seen := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		f, ok := matchField(fields, k)
		if !ok {
			continue
		}
		if seen[f.name] {
			return f.name
		}
		seen[f.name] = true
		if sub := foldedDuplicate(obj[k], f.typ); sub != "" {
			return f.name + "." + sub
		}
	}
	return ""
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the fields encoding/json decodes into t, by JSON name.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type})
	}
	return out
}

// matchField finds the field key decodes into: the exact name first, else
// the first equal under case folding.
func matchField(fields []jsonField, key string) (jsonField, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return jsonField{}, false
}
