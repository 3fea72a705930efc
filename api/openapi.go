package api

import (
	"encoding"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warrenhq/warren/id"
)

// The OpenAPI 3 document is generated from the route table, so every registered
// route is documented by construction; a test walks the router to check the
// reverse.

// openAPISpec is a server's document, made on first request (per server:
// servers with other routes have other documents).
type openAPISpec struct {
	once sync.Once
	json []byte
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	s.openapi.once.Do(func() { s.openapi.json, _ = json.MarshalIndent(s.spec(), "", "  ") })
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi.json)
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func (s *Server) spec() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{"summary": rt.summary, "operationId": opID(rt)}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.pattern, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if rt.req != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.req))}}}
		} else if rt.rawBody != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				rt.rawBody: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}}
		}
		status := rt.status
		if status == 0 {
			status = http.StatusOK
		}
		resp := map[string]any{"description": http.StatusText(status)}
		switch {
		case rt.resp != nil:
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.resp))}}
		case rt.rawResp != "":
			resp["content"] = map[string]any{rt.rawResp: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
		}
		op["responses"] = map[string]any{
			itoa(status): resp,
			"default":    map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(errorBody{}))}}},
		}
		switch rt.access {
		case public:
			op["security"] = []any{}
		case admin:
			op["x-warren-admin"] = true
		}
		if paths[rt.pattern] == nil {
			paths[rt.pattern] = map[string]any{}
		}
		paths[rt.pattern][strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "Warren API", "version": "1"},
		"components": map[string]any{"securitySchemes": map[string]any{
			"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "A team API key: wk_…"},
			"apiKey":  map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
			"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie, "description": "From POST /v1/auth/login; state-changing requests also need X-CSRF-Token."},
		}},
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"apiKey": []any{}}, map[string]any{"session": []any{}}},
		"paths":    paths,
	}
}

func opID(rt route) string {
	name := strings.ToLower(rt.method) + pathParam.ReplaceAllString(rt.pattern, "by_$1")
	return strings.NewReplacer("/", "_", "-", "_").Replace(name)
}

func itoa(n int) string { return strconv.Itoa(n) }

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
	textType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	kindType = reflect.TypeOf((*interface{ Kind() id.Kind })(nil)).Elem()
)

// schemaOf describes t as a JSON schema, following encoding/json's rules.
func schemaOf(t reflect.Type) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	sc := schemaOfValue(t)
	if nullable {
		sc["nullable"] = true
	}
	return sc
}

func schemaOfValue(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON value"}
	case t.Implements(kindType):
		k := reflect.Zero(t).Interface().(interface{ Kind() id.Kind }).Kind()
		return map[string]any{"type": "string", "description": "a " + k.Name + " id", "pattern": "^" + k.Prefix + "[0-9a-f-]{36}$"}
	case t.Implements(textType):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		addFields(t, props, &required)
		sc := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			sc["required"] = required
		}
		return sc
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			addFields(ft, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}
