package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/sipscope/sipscope/alert"
)

// route is one registered route with what it requires and its OpenAPI
// description. New registers exactly these and openAPI documents exactly
// these, so the two cannot drift apart; TestOpenAPIDocumentsEveryRoute
// checks the result against the engine.
type route struct {
	method  string
	path    string // gin syntax: /calls/:id
	access  access
	handler gin.HandlerFunc
	summary string
	params  []param
	body    any // a value of the request body's type; nil without body
	// ok is the success status; okType its content type ("" for no body)
	// and okBody a value of its JSON type.
	ok     int
	okType string
	okBody any
	// errs are the error statuses the route answers besides the ones its
	// access implies (401, 403) and 500.
	errs []int
}

// param is one path or query parameter.
type param struct {
	name     string
	in       string // "path" or "query"
	typ      string // "string", "integer"
	format   string // "date-time", "ip"...
	desc     string
	enum     []string
	min, max int // for integers, when max > 0
	// bad is a value the route refuses with 400 naming this parameter;
	// empty when every value is accepted.
	bad string
}

const jsonType = "application/json"

// callFilterParams are the query parameters ParseCallFilter reads.
var callFilterParams = []param{
	{name: "from", in: "query", typ: "string", format: "date-time", desc: "calls that started at or after this RFC 3339 time", bad: "yesterday"},
	{name: "to", in: "query", typ: "string", format: "date-time", desc: "calls that started before this RFC 3339 time", bad: "2024-13-01T00:00:00Z"},
	{name: "from_user", in: "query", typ: "string", desc: "the caller: substring of the user part (case-insensitive), or with '*' a wildcard over all of it; a sip:/sips:/tel: URI stands for its user part; a leading '+' is ignored on both sides (E.164); at most 256 bytes", bad: longParam},
	{name: "to_user", in: "query", typ: "string", desc: "the callee, as from_user", bad: longParam},
	{name: "call_id", in: "query", typ: "string", desc: "exact Call-ID (at most 1024 bytes)"},
	{name: "q", in: "query", typ: "string", desc: "substring of Call-ID, caller or callee (at most 256 bytes)", bad: longParam},
	{name: "ip", in: "query", typ: "string", desc: "caller or callee IPv4 or IPv6 address, or a CIDR prefix (10.0.0.0/8, 2001:db8::/32)", bad: "300.1.1.1"},
	{name: "state", in: "query", typ: "string", desc: "call state", enum: []string{"answered", "failed", "cancelled", "no_final"}, bad: "ringing"},
	{name: "end_reason", in: "query", typ: "string", desc: "how the call ended", bad: "hung_up"},
	{name: "final_code", in: "query", typ: "integer", min: 100, max: 699, desc: "final SIP response code", bad: "99"},
	{name: "final_class", in: "query", typ: "string", desc: "final code class: 1xx to 6xx", bad: "7xx"},
	{name: "finding", in: "query", typ: "string", desc: "a diagnosis finding code the call has (e.g. one_way_audio, rejected:404)", bad: "no media"},
	{name: "min_duration", in: "query", typ: "number", desc: "talk time at least this many seconds", bad: "-1"},
	{name: "max_duration", in: "query", typ: "number", desc: "talk time at most this many seconds", bad: "x"},
	{name: "min_mos", in: "query", typ: "number", desc: "MOS at least this (0-5)", bad: "6"},
	{name: "max_mos", in: "query", typ: "number", desc: "MOS at most this (0-5; calls without RTP have 0)", bad: "NaN"},
	{name: "partial", in: "query", typ: "boolean", desc: "calls whose initial INVITE was (true) or was not (false) captured", bad: "maybe"},
	{name: "has_rtp", in: "query", typ: "boolean", desc: "calls with (true) or without (false) RTP: a MOS or a stream", bad: "yes"},
	{name: "user_agent", in: "query", typ: "string", desc: "the caller's User-Agent: a case-insensitive substring, or a * wildcard over all of it", bad: "a\x01b"},
	{name: "node", in: "query", typ: "string", desc: "calls with a message captured at this capture point (an interface, or hep:ID/NAME), exactly; not a filter of live events", bad: "a\x01b"},
	{name: "sort", in: "query", typ: "string", desc: "order of the page (default start)", enum: []string{"start", "duration", "mos", "pdd"}, bad: "caller"},
	{name: "order", in: "query", typ: "string", desc: "sort direction (default desc)", enum: []string{"asc", "desc"}, bad: "up"},
	{name: "limit", in: "query", typ: "integer", min: 1, max: 1000, desc: "page size (default 50)", bad: "0"},
	{name: "offset", in: "query", typ: "integer", min: 0, max: 1<<31 - 1, desc: "calls to skip", bad: "-1"},
	{name: "cursor", in: "query", typ: "string", desc: "page on after the call a previous page's next_cursor names (start order only, without offset); the total stays the filter's", bad: "c1.!!"},
}

// longParam is longer than any text parameter accepts.
var longParam = string(make([]byte, maxTextParam+1))

var idParam = param{name: "id", in: "path", typ: "string", desc: "the Call-ID, path-escaped ('/' as %2F)"}

// routeTable is every route the server registers, with the role it needs.
//
//	route                          needs
//	GET  /healthz, /api/v1/healthz Config.HealthAccess (open or any user)
//	GET  /metrics                  Config.MetricsAccess (open or any user)
//	GET  /api/v1/openapi.json      open
//	POST /api/v1/login             open (rate-limited per address and user)
//	POST /api/v1/logout            viewer
//	GET  /api/v1/me                viewer
//	GET  /api/v1/calls, /calls/:id viewer
//	GET  /api/v1/registrations[/:id] viewer
//	GET  /api/v1/streams           viewer
//	GET  /api/v1/calls/:id/pcap    operator
//	GET  /api/v1/calls/:id/audio   operator (WAV of its RTP)
//	GET  /api/v1/calls/:id/text    viewer
//	GET  /api/v1/calls.pcap        operator (a search's calls)
//	GET  /api/v1/alerts[/:id]      viewer
//	GET  /api/v1/alerts/:id/pcap   operator
//	GET  /api/v1/kpis              viewer
//	GET  /api/v1/events            viewer (Server-Sent Events)
//	GET  /api/v1/status            viewer
//	*    /api/v1/users, /tokens    admin
//	GET  /, /ui/*                  open (the page; its data comes from the API)
//
// While the server runs open (no users on loopback, or AuthMode "none")
// every caller has every role.
func (s *Server) routeTable() []route {
	health := accessOpen
	if s.cfg.HealthAccess == AccessToken {
		health = accessViewer
	}
	rs := []route{
		{method: http.MethodGet, path: "/healthz", access: health, handler: s.healthz, summary: "liveness check",
			ok: 200, okType: jsonType, okBody: healthView{}},
		{method: http.MethodGet, path: "/api/v1/healthz", access: health, handler: s.healthz, summary: "liveness check",
			ok: 200, okType: jsonType, okBody: healthView{}},
		{method: http.MethodGet, path: "/api/v1/openapi.json", access: accessOpen, handler: s.openAPIDoc,
			summary: "this document", ok: 200, okType: jsonType, okBody: map[string]any{}},
		{method: http.MethodPost, path: "/api/v1/login", access: accessOpen, handler: s.login,
			summary: "log in; sets the session cookie and the CSRF cookie, whose value state-changing requests send in X-CSRF-Token",
			body:    loginRequest{}, ok: 200, okType: jsonType, okBody: loginView{}, errs: []int{400, 401, 415, 429}},
		{method: http.MethodPost, path: "/api/v1/logout", access: accessViewer, handler: s.logout,
			summary: "end this session", ok: 204},
		{method: http.MethodGet, path: "/api/v1/me", access: accessViewer, handler: s.me,
			summary: "who the request acts as", ok: 200, okType: jsonType, okBody: meView{}},
		{method: http.MethodGet, path: "/api/v1/calls", access: accessViewer, handler: s.listCalls,
			summary: "search calls, newest first (or as sort/order say); with counts=true also the filter's calls per state and per final code",
			params: append(slices.Clone(callFilterParams), param{name: "counts", in: "query", typ: "boolean", desc: "add counts per state and per final code for the filter", bad: "2"},
				param{name: "rows", in: "query", typ: "boolean", desc: "false with counts=true: only the counts and the total, no calls (default true)", bad: "2"},
				param{name: "total", in: "query", typ: "boolean", desc: "false: the total is not counted, total is -1 unless the page holds every match (the counts' total with counts=true); the rows come sooner (default true)", bad: "2"}),
			ok: 200, okType: jsonType, okBody: CallListView{}, errs: []int{400}},
		{method: http.MethodGet, path: "/api/v1/calls/:id", access: accessViewer, handler: s.getCall,
			summary: "one call with its SIP messages and RTP streams", params: []param{idParam},
			ok: 200, okType: jsonType, okBody: CallDetailView{}, errs: []int{400, 404}},
		{method: http.MethodGet, path: "/api/v1/calls/:id/pcap", access: accessOperator, handler: s.callPCAP,
			summary: "the call's frames as captured (SIP, RTP, RTCP; SIP rebuilt where none was captured) as pcap, or pcapng when link types differ",
			params:  []param{idParam, {name: "legs", in: "query", typ: "string", enum: []string{"0", "1"}, desc: "1 adds the call's B2BUA legs (linked_call_ids)", bad: "2"}},
			ok:      200, okType: "application/vnd.tcpdump.pcap", errs: []int{400, 404}},
		{method: http.MethodGet, path: "/api/v1/calls/:id/audio", access: accessOperator, handler: s.callAudio,
			summary: "the call's audio as a WAV file (16-bit PCM, 8 kHz; mono, or stereo for direction=both with the caller left), G.711 decoded from the stored RTP packets, lost packets as silence of their length; 404 without stored RTP, 409 when the RTP was stored without payload (store_rtp headers or none), 415 for a codec other than G.711 (named), 413 above 4 hours per direction, 503 while two exports run",
			params:  audioParams, ok: 200, okType: "audio/wav", errs: []int{400, 404, 409, 413, 415, 501, 503}},
		{method: http.MethodGet, path: "/api/v1/calls/:id/text", access: accessViewer, handler: s.callText,
			summary: "the call as text: its ladder (time, offset, source --> destination, transport, first line) as sngrep shows it, then every message in full",
			params:  []param{idParam}, ok: 200, okType: "text/plain", errs: []int{400, 404}},
		{method: http.MethodGet, path: "/api/v1/calls.pcap", access: accessOperator, handler: s.callsPCAP,
			summary: "the SIP messages of every call the search selects, in capture order, as one pcap file; without limit/offset at most 1000 calls (413 beyond), with them that page; at most 100 MB (413 beyond); the X-Sipscope-Calls header says how many calls it holds",
			params:  callFilterParams, ok: 200, okType: "application/vnd.tcpdump.pcap", errs: []int{400, 413, 503}},
		{method: http.MethodGet, path: "/api/v1/registrations", access: accessViewer, handler: s.listRegistrations,
			summary: "search registrations (REGISTER exchanges), newest first", params: registrationFilterParams,
			ok: 200, okType: jsonType, okBody: RegistrationListView{}, errs: []int{400, 501}},
		{method: http.MethodGet, path: "/api/v1/registrations/:id", access: accessViewer, handler: s.getRegistration,
			summary: "every exchange of one registration Call-ID with its SIP messages",
			params:  []param{{name: "id", in: "path", typ: "string", desc: "the Call-ID, path-escaped"}},
			ok:      200, okType: jsonType, okBody: RegistrationDetailView{}, errs: []int{400, 404, 501}},
		{method: http.MethodGet, path: "/api/v1/streams", access: accessViewer, handler: s.listStreams,
			summary: "search RTP streams, bound to a call or not, newest first", params: streamFilterParams,
			ok: 200, okType: jsonType, okBody: StreamListView{}, errs: []int{400, 501}},
		{method: http.MethodGet, path: "/api/v1/kpis", access: accessViewer, handler: s.kpis,
			summary: "KPIs per time bucket: attempts, ASR, NER, SER, ACD, PDD mean and p95, MOS bands, mean concurrent calls, registrations and their success, alerts fired; optionally grouped",
			params:  kpiParams, ok: 200, okType: jsonType, okBody: KPIListView{}, errs: []int{400, 501}},
		{method: http.MethodGet, path: "/api/v1/alerts", access: accessViewer, handler: s.listAlerts,
			summary: "alerts raised by live traffic (registration storms, scanners, floods, failure spikes, bad audio), newest first, with the counts of firing ones",
			params:  alertFilterParams, ok: 200, okType: jsonType, okBody: alertListView{}, errs: []int{400}},
		{method: http.MethodGet, path: "/api/v1/alerts/:id", access: accessViewer, handler: s.getAlert,
			summary: "one alert: its figures, thresholds, top offenders and sample Call-IDs",
			params:  []param{alertIDParam},
			ok:      200, okType: jsonType, okBody: alert.Alert{}, errs: []int{404}},
		{method: http.MethodGet, path: "/api/v1/events", access: accessViewer, handler: s.events,
			summary: "live updates as Server-Sent Events: each call, registration and alert as it is stored (event: call, registration, alert; data: the JSON of the list views), a comment line as heartbeat; a client too slow for its buffer gets event: dropped and is disconnected",
			params:  eventParams, ok: 200, okType: "text/event-stream", errs: []int{400, 501, 503}},
		{method: http.MethodGet, path: "/api/v1/alerts/:id/pcap", access: accessOperator, handler: s.alertPCAP,
			summary: "the SIP messages from and to the alert's offending IPs, from a minute before it started until it ended (for an alert naming no IP, those of its sample calls), as a pcap file (at most 10,000 messages or 50 MB; X-Sipscope-Truncated: true when cut)",
			params:  []param{alertIDParam},
			ok:      200, okType: "application/vnd.tcpdump.pcap", errs: []int{404, 501}},
		{method: http.MethodGet, path: "/api/v1/status", access: accessViewer, handler: s.status,
			summary: "live capture counters", ok: 200, okType: jsonType, okBody: map[string]any{}},

		{method: http.MethodGet, path: "/api/v1/users", access: accessAdmin, handler: s.listUsers,
			summary: "list users", ok: 200, okType: jsonType, okBody: []userView{}, errs: []int{501}},
		{method: http.MethodPost, path: "/api/v1/users", access: accessAdmin, handler: s.addUser,
			summary: "add a user", body: userRequest{}, ok: 201, okType: jsonType, okBody: userView{}, errs: []int{400, 409, 415, 501}},
		{method: http.MethodPut, path: "/api/v1/users/:name", access: accessAdmin, handler: s.changeUser,
			summary: "change a user's role or password", params: []param{userParam}, body: userChange{},
			ok: 200, okType: jsonType, okBody: userView{}, errs: []int{400, 404, 409, 415, 501}},
		{method: http.MethodDelete, path: "/api/v1/users/:name", access: accessAdmin, handler: s.deleteUser,
			summary: "delete a user; its sessions and tokens stop working", params: []param{userParam},
			ok: 204, errs: []int{400, 404, 409, 501}},
		{method: http.MethodGet, path: "/api/v1/tokens", access: accessAdmin, handler: s.listTokens,
			summary: "list API tokens (never their secrets)", ok: 200, okType: jsonType, okBody: []tokenView{}, errs: []int{501}},
		{method: http.MethodPost, path: "/api/v1/tokens", access: accessAdmin, handler: s.addToken,
			summary: "create an API token for a user; the secret is in this answer only", body: tokenRequest{},
			ok: 201, okType: jsonType, okBody: newTokenView{}, errs: []int{400, 404, 415, 501}},
		{method: http.MethodDelete, path: "/api/v1/tokens/:id", access: accessAdmin, handler: s.deleteToken,
			summary: "revoke an API token", params: []param{{name: "id", in: "path", typ: "string", desc: "the token's ID"}},
			ok: 204, errs: []int{404, 501}},
	}
	if s.cfg.Metrics != nil {
		a := accessOpen
		if s.cfg.MetricsAccess == AccessToken {
			a = accessViewer
		}
		rs = append(rs, route{method: http.MethodGet, path: "/metrics", access: a, handler: gin.WrapH(s.cfg.Metrics),
			summary: "Prometheus metrics", ok: 200, okType: "text/plain"})
	}
	if s.cfg.UI != nil {
		ui := gin.WrapH(s.cfg.UI)
		uiPath := param{name: "path", in: "path", typ: "string", desc: "an asset of the UI"}
		rs = append(rs,
			route{method: http.MethodGet, path: "/", access: accessOpen, handler: ui, summary: "the web UI", ok: 200, okType: "text/html"},
			route{method: http.MethodHead, path: "/", access: accessOpen, handler: ui, summary: "the web UI", ok: 200},
			route{method: http.MethodGet, path: "/ui/*path", access: accessOpen, handler: ui, summary: "the web UI's assets",
				params: []param{uiPath}, ok: 200, okType: "application/octet-stream", errs: []int{404}},
			route{method: http.MethodHead, path: "/ui/*path", access: accessOpen, handler: ui, summary: "the web UI's assets",
				params: []param{uiPath}, ok: 200, errs: []int{404}},
		)
	}
	return rs
}

var userParam = param{name: "name", in: "path", typ: "string", desc: "the user's name"}

type healthView struct {
	Status string `json:"status"`
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, healthView{Status: "ok"})
}

func (s *Server) status(c *gin.Context) {
	var st any = gin.H{}
	if s.cfg.Status != nil {
		st = s.cfg.Status()
	}
	out := gin.H{"live": st}
	if s.cfg.StoreStatus != nil {
		if ss := s.cfg.StoreStatus(); ss != nil {
			out["store"] = ss
		}
	}
	c.JSON(http.StatusOK, out)
}
