package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type openAPIDocument struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		Role       string `json:"x-sipscope-role"`
		Parameters []struct {
			Name     string `json:"name"`
			In       string `json:"in"`
			Required bool   `json:"required"`
		} `json:"parameters"`
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// TestOpenAPIDocumentsEveryRoute compares the served document with the
// routes the gin engine really has, both ways, with their path parameters,
// roles and answers; and sends every documented query parameter a value
// the route must refuse, expecting a 400 that names it.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	// UI and metrics handlers add their routes; any handler will do.
	s := New(Config{UI: http.NotFoundHandler(), Metrics: http.NotFoundHandler()}, nil, nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/openapi.json", nil)
	req.Host = "localhost" // open on loopback: the Host check applies
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET /api/v1/openapi.json: %d", rec.Code)
	}
	var doc openAPIDocument
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}

	registered := map[string]bool{}
	for _, r := range s.engine.Routes() {
		key := strings.ToLower(r.Method) + " " + openAPIPath(r.Path)
		registered[key] = true
		op, ok := doc.Paths[openAPIPath(r.Path)][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("registered route %s %s is not documented", r.Method, r.Path)
			continue
		}
		if op.Role == "" {
			t.Errorf("%s %s: no role documented", r.Method, r.Path)
		}
		for _, seg := range strings.Split(r.Path, "/") {
			if seg == "" || (seg[0] != ':' && seg[0] != '*') {
				continue
			}
			if !slices.ContainsFunc(op.Parameters, func(p struct {
				Name     string `json:"name"`
				In       string `json:"in"`
				Required bool   `json:"required"`
			}) bool {
				return p.Name == seg[1:] && p.In == "path" && p.Required
			}) {
				t.Errorf("%s %s: path parameter %s not documented", r.Method, r.Path, seg[1:])
			}
		}
		hasSuccess := false
		for code := range op.Responses {
			hasSuccess = hasSuccess || code[0] == '2'
		}
		if _, has500 := op.Responses["500"]; !hasSuccess || (!has500 && r.Method != http.MethodHead) {
			t.Errorf("%s %s: responses %v, want the success and 500", r.Method, r.Path, op.Responses)
		}
		for code := range op.Responses {
			if n, err := strconv.Atoi(code); err != nil || n < 200 || n > 599 {
				t.Errorf("%s %s: response key %q", r.Method, r.Path, code)
			}
		}
		if op.Role != accessOpen.String() {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s %s needs %s but documents no 401", r.Method, r.Path, op.Role)
			}
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !registered[m+" "+p] {
				t.Errorf("documented route %s %s is not registered", strings.ToUpper(m), p)
			}
		}
	}
	for _, name := range []string{"CallListView", "CallDetailView", "CallView", "StreamView", "Error"} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s missing", name)
		}
	}

	// Every validated query parameter is read by its route under the
	// documented name: a bad value is refused naming it.
	for _, r := range s.routes {
		for _, p := range r.params {
			if p.in != "query" || p.bad == "" {
				continue
			}
			t.Run(r.method+" "+r.path+" refuses a bad "+p.name, func(t *testing.T) {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(r.method, r.path+"?"+url.Values{p.name: {p.bad}}.Encode(), nil)
				req.Host = "localhost"
				s.Handler().ServeHTTP(rec, req)
				var body struct{ Param string }
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != 400 || body.Param != p.name {
					t.Fatalf("status %d body %s, want 400 naming %s", rec.Code, rec.Body, p.name)
				}
			})
		}
	}
}

func TestOpenAPIPathTurnsGinParametersIntoTemplates(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/calls/:id/pcap": "/api/v1/calls/{id}/pcap",
		"/ui/*path":              "/ui/{path}",
		"/":                      "/",
	} {
		if got := openAPIPath(in); got != want {
			t.Errorf("openAPIPath(%q) = %q, want %q", in, got, want)
		}
	}
}
