package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// The OpenAPI 3.1 document is built from the route table, so that every
// registered route is documented with the role it needs, its parameters
// and its answers; the JSON schemas of bodies come from the Go types the
// handlers encode, by reflection over their json tags.

func (s *Server) openAPIDoc(c *gin.Context) {
	c.Data(http.StatusOK, jsonType+"; charset=utf-8", s.openAPIJSON())
}

func (s *Server) openAPIJSON() []byte {
	b, err := json.Marshal(s.openAPI())
	if err != nil {
		// Only maps, slices and strings of our own making: cannot fail.
		panic(err)
	}
	return b
}

// openAPIPath turns gin's /calls/:id and /ui/*path into /calls/{id} and
// /ui/{path}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if len(s) > 1 && (s[0] == ':' || s[0] == '*') {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

var statusText = map[int]string{
	400: "a parameter or the body is invalid; \"param\" names it",
	401: "no valid session cookie or bearer token",
	403: "the caller's role is too low, or a session request lacks the X-CSRF-Token header",
	404: "no such record",
	409: "conflicts with what exists",
	413: "the answer would exceed its bound (the route's summary says which)",
	415: "the body is not application/json, or the media cannot be decoded (the route's summary says which)",
	429: "too many login attempts; see Retry-After",
	500: "storage failed; \"request_id\" names the log entry",
	501: "the store does not keep what this route reads (users, frames, registrations…)",
	503: "busy: too many exports at once; retry later",
}

func (s *Server) openAPI() map[string]any {
	schemas := map[string]any{
		"Error": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"error":      map[string]any{"type": "string"},
				"param":      map[string]any{"type": "string"},
				"request_id": map[string]any{"type": "string"},
			},
			"required": []string{"error"},
		},
	}
	paths := map[string]any{}
	for _, r := range s.routes {
		p := openAPIPath(r.path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{
			"summary":         r.summary,
			"operationId":     strings.ToLower(r.method) + strings.NewReplacer("/", "_", ":", "", "*", "", ".", "_").Replace(r.path),
			"x-sipscope-role": r.access.String(),
			"description":     "Needs: " + r.access.String() + ".",
		}
		if r.access == accessOpen {
			op["security"] = []any{}
		}
		var params []any
		for _, pr := range r.params {
			sch := map[string]any{"type": pr.typ}
			if pr.format != "" {
				sch["format"] = pr.format
			}
			if len(pr.enum) > 0 {
				sch["enum"] = pr.enum
			}
			if pr.max > 0 {
				sch["minimum"], sch["maximum"] = pr.min, pr.max
			}
			params = append(params, map[string]any{
				"name": pr.name, "in": pr.in, "required": pr.in == "path",
				"description": pr.desc, "schema": sch,
			})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.body != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{jsonType: map[string]any{"schema": schemaOf(reflect.TypeOf(r.body), schemas)}},
			}
		}
		resp := map[string]any{}
		ok := map[string]any{"description": http.StatusText(r.ok)}
		if r.okType != "" {
			media := map[string]any{}
			if r.okBody != nil {
				media["schema"] = schemaOf(reflect.TypeOf(r.okBody), schemas)
			} else {
				media["schema"] = map[string]any{"type": "string", "contentMediaType": r.okType}
			}
			ok["content"] = map[string]any{r.okType: media}
		}
		resp[strconv.Itoa(r.ok)] = ok
		errs := append([]int(nil), r.errs...)
		if r.access != accessOpen {
			errs = append(errs, 401, 403)
		}
		if r.method != http.MethodHead {
			errs = append(errs, 500)
		}
		for _, code := range errs {
			e := map[string]any{"description": statusText[code]}
			if r.method != http.MethodHead {
				e["content"] = map[string]any{jsonType: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}
			}
			resp[strconv.Itoa(code)] = e
		}
		op["responses"] = resp
		item[strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "sipscope API",
			"version": "1",
			"description": "Passive SIP/RTP monitoring. Roles: viewer (metadata), operator (also PCAP and audio), " +
				"admin (also users and tokens). Authenticate with a session cookie from POST /api/v1/login " +
				"(state-changing requests then send the csrf_token in X-CSRF-Token) or with an API token as " +
				"Authorization: Bearer. With no user defined on a loopback address, or auth mode none, every route is open.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer"},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie},
			},
		},
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}},
	}
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf is the JSON schema of values of t as encoding/json writes them;
// named structs go to components and are referenced.
func schemaOf(t reflect.Type, components map[string]any) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
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
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), components)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), components)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if name != "" {
			if _, done := components[name]; !done {
				components[name] = map[string]any{} // recursion guard
				components[name] = structSchema(t, components)
			}
			return map[string]any{"$ref": "#/components/schemas/" + name}
		}
		return structSchema(t, components)
	}
	return map[string]any{}
}

func structSchema(t reflect.Type, components map[string]any) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, components)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	sort.Strings(required)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}
