package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/limits"
	"github.com/steward-project/steward/server/internal/store"
)

// Prefix is the path under which every admin API route lives. Mount the
// handler from New at this pattern, without stripping it:
//
//	mux.Handle(api.Prefix, api.New(cfg))
const Prefix = "/api/v1/"

// DefaultOnlineWindow is how long after its last message a connected host
// still counts as online: three heartbeats of the default 30 s interval, so
// one late heartbeat does not flip a host offline.
const DefaultOnlineWindow = 90 * time.Second

// Store is the part of the server's store the admin API reads.
type Store interface {
	store.Credentials
	store.HostLifecycle
	GetHost(ctx context.Context, id int64) (store.Host, error)
	ListHosts(ctx context.Context, p store.HostPage) ([]store.Host, error)
	Inventory(ctx context.Context, hostID int64) (store.InventoryDoc, error)
	SearchSoftware(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareHit, error)
	SoftwareVersions(ctx context.Context, q store.SoftwareQuery) ([]store.SoftwareVersion, error)
	ListChanges(ctx context.Context, q store.ChangeQuery) ([]store.Change, error)
	store.Policies
	store.PolicySigning
	store.Tailorings
	store.Results
	store.Exemptions
	store.Audit
}

// Config is what New needs. Only Store is required.
type Config struct {
	Store Store
	// Logger receives store failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock used to decide whether a host is online; nil means
	// time.Now.
	Now func() time.Time
	// OnlineWindow is how recent a connected host's last message must be
	// for it to count as online; zero means DefaultOnlineWindow.
	OnlineWindow time.Duration
	// PoliciesChanged, when set, is called after an apply or delete
	// changed the policy set, with its new revision: the server
	// evaluates expr-only policies again and pushes the set to agents.
	PoliciesChanged func(revision int64)
	// CheckNow, when set, asks a connected host's agent to evaluate its
	// policies now and reports whether the host is connected here.
	CheckNow func(hostID int64) bool
	// LabelsChanged, when set, is called after a host's labels changed,
	// with the new labels: the gateway tells the host's agent, which
	// picks the tailorings that now select it.
	LabelsChanged func(hostID int64, labels map[string]string)
	// Alerting is the alert, silence and outbox store; nil answers the
	// alerting routes with 503 "alerting is not available".
	Alerting AlertingStore
	// AlertAcked, when set, is called after an alert was acknowledged
	// (the engine wakes its delivery workers).
	AlertAcked func(store.Alert)
	// SilencesChanged, when set, is called after a silence was added or
	// expired (the engine re-checks muted alerts).
	SilencesChanged func()
	// ExemptionsChanged, when set, is called after an exemption was added
	// or revoked, or a host's labels changed (exempt results never alert:
	// the engine reconciles policy alerts).
	ExemptionsChanged func()
	// ReloadAlerting re-reads the alerting configuration and audits the
	// reload with actor, the token name; an error means the old
	// configuration stays, and each of its lines is shown as one problem.
	// It returns a summary to show (counts of receivers, routes, rules).
	// Nil answers the reload route with 503.
	ReloadAlerting func(ctx context.Context, actor string) (any, error)
	// Guard, when set, rate-limits tokens and the failed attempts of
	// each client address (package limits).
	Guard *limits.Guard
	// HostGone, when set, is called after a host was retired or deleted
	// (the gateway closes its connection).
	HostGone func(hostID int64)
	// Version is the server's build version, shown by GET
	// /api/v1/version; empty means "dev".
	Version string
}

// Route is one registered method and path pattern, in net/http ServeMux
// syntax ("/api/v1/hosts/{id}").
type Route struct {
	Method  string
	Pattern string
}

type server struct {
	store   Store
	log     *slog.Logger
	now     func() time.Time
	window  time.Duration
	changed func(revision int64)
	check   func(hostID int64) bool
	relabel func(hostID int64, labels map[string]string)

	alerts   AlertingStore // nil: alerting is off
	acked    func(store.Alert)
	silenced func()
	exempted func()
	reload   func(ctx context.Context, actor string) (any, error)

	guard *limits.Guard
	gone  func(hostID int64)

	version string

	touchMu sync.Mutex
	touched map[int64]time.Time // token id -> last use this server recorded
}

// routeTable is the single list both New and Routes read, so the OpenAPI
// test checks exactly what is served.
var routeTable = []struct {
	method, pattern string
	handle          func(*server, http.ResponseWriter, *http.Request)
}{
	{http.MethodGet, "/api/v1/hosts", (*server).listHosts},
	{http.MethodGet, "/api/v1/hosts/{id}", (*server).getHost},
	{http.MethodGet, "/api/v1/hosts/{id}/inventory", (*server).getInventory},
	{http.MethodGet, "/api/v1/hosts/{id}/changes", (*server).hostChanges},
	{http.MethodGet, "/api/v1/changes", (*server).fleetChanges},
	{http.MethodGet, "/api/v1/software", (*server).searchSoftware},
	{http.MethodGet, "/api/v1/software/versions", (*server).softwareVersions},
	{http.MethodPost, "/api/v1/policies", (*server).applyPolicies},
	{http.MethodPut, "/api/v1/policies", (*server).replacePolicies},
	{http.MethodGet, "/api/v1/policies", (*server).listPolicies},
	{http.MethodGet, "/api/v1/policies/{id}", (*server).getPolicy},
	{http.MethodDelete, "/api/v1/policies/{id}", (*server).deletePolicy},
	{http.MethodGet, "/api/v1/policies/{id}/results", (*server).policyResults},
	{http.MethodGet, "/api/v1/policies/{id}/history", (*server).policyHistory},
	{http.MethodGet, "/api/v1/policies/{id}/remediation", (*server).policyRemediation},
	{http.MethodGet, "/api/v1/hosts/{id}/policies", (*server).hostPolicies},
	{http.MethodPost, "/api/v1/hosts/{id}/check", (*server).checkHost},
	{http.MethodGet, "/api/v1/hosts/{id}/labels", (*server).getHostLabels},
	{http.MethodPut, "/api/v1/hosts/{id}/labels", (*server).setHostLabels},
	{http.MethodGet, "/api/v1/tailorings", (*server).listTailorings},
	{http.MethodGet, "/api/v1/tailorings/{name}", (*server).getTailoring},
	{http.MethodPut, "/api/v1/tailorings/{name}", (*server).putTailoring},
	{http.MethodDelete, "/api/v1/tailorings/{name}", (*server).deleteTailoring},
	{http.MethodGet, "/api/v1/compliance", (*server).compliance},
	{http.MethodGet, "/api/v1/compliance/report", (*server).complianceReport},
	{http.MethodPost, "/api/v1/exemptions", (*server).addExemption},
	{http.MethodGet, "/api/v1/exemptions", (*server).listExemptions},
	{http.MethodGet, "/api/v1/exemptions/{id}", (*server).getExemption},
	{http.MethodDelete, "/api/v1/exemptions/{id}", (*server).revokeExemption},
	{http.MethodGet, "/api/v1/audit", (*server).listAudit},
	{http.MethodGet, "/api/v1/alerts", needsAlerting((*server).listAlerts)},
	{http.MethodGet, "/api/v1/alerts/{id}", needsAlerting((*server).getAlert)},
	{http.MethodPost, "/api/v1/alerts/{id}/ack", needsAlerting((*server).ackAlert)},
	{http.MethodPost, "/api/v1/silences", needsAlerting((*server).addSilence)},
	{http.MethodGet, "/api/v1/silences", needsAlerting((*server).listSilences)},
	{http.MethodGet, "/api/v1/silences/{id}", needsAlerting((*server).getSilence)},
	{http.MethodDelete, "/api/v1/silences/{id}", needsAlerting((*server).expireSilence)},
	{http.MethodGet, "/api/v1/notifications", needsAlerting((*server).listNotifications)},
	{http.MethodPost, "/api/v1/alerting/reload", (*server).reloadAlerting},
	{http.MethodPost, "/api/v1/hosts/{id}/retire", (*server).retireHost},
	{http.MethodDelete, "/api/v1/hosts/{id}", (*server).deleteHost},
	{http.MethodGet, "/api/v1/tokens", (*server).listTokens},
	{http.MethodPost, "/api/v1/tokens", (*server).createToken},
	{http.MethodDelete, "/api/v1/tokens/{name}", (*server).revokeToken},
	{http.MethodGet, "/api/v1/enroll-secrets", (*server).listEnrollSecrets},
	{http.MethodPost, "/api/v1/enroll-secrets", (*server).createEnrollSecret},
	{http.MethodDelete, "/api/v1/enroll-secrets/{name}", (*server).revokeEnrollSecret},
	{http.MethodGet, "/api/v1/version", (*server).getVersion},
}

// Routes lists every route New registers.
func Routes() []Route {
	out := make([]Route, 0, len(routeTable))
	for _, rt := range routeTable {
		out = append(out, Route{Method: rt.method, Pattern: rt.pattern})
	}
	return out
}

// New returns the admin API handler. Every request, including one for an
// unknown path, must carry a valid admin token first, so the API does not
// reveal its routes to anonymous callers. New panics if cfg.Store is nil.
func New(cfg Config) http.Handler {
	if cfg.Store == nil {
		panic("api.New: nil Store")
	}
	s := &server{store: cfg.Store, log: cfg.Logger, now: cfg.Now, window: cfg.OnlineWindow, changed: cfg.PoliciesChanged, check: cfg.CheckNow,
		alerts: cfg.Alerting, acked: cfg.AlertAcked, silenced: cfg.SilencesChanged, exempted: cfg.ExemptionsChanged, reload: cfg.ReloadAlerting,
		gone: cfg.HostGone, version: cfg.Version, relabel: cfg.LabelsChanged}
	s.guard = cfg.Guard
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.window <= 0 {
		s.window = DefaultOnlineWindow
	}
	if s.changed == nil {
		s.changed = func(int64) {}
	}
	if s.check == nil {
		s.check = func(int64) bool { return false }
	}
	if s.relabel == nil {
		s.relabel = func(int64, map[string]string) {}
	}
	if s.acked == nil {
		s.acked = func(store.Alert) {}
	}
	if s.silenced == nil {
		s.silenced = func() {}
	}
	if s.exempted == nil {
		s.exempted = func() {}
	}
	if s.gone == nil {
		s.gone = func(int64) {}
	}

	mux := http.NewServeMux()
	// paths matches a request's path regardless of method, so that the
	// fallback can tell "no such path" (404) from "wrong method" (405).
	paths := http.NewServeMux()
	allowed := make(map[string][]string)
	for _, rt := range routeTable {
		mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			rt.handle(s, w, r)
		})
		if _, seen := allowed[rt.pattern]; !seen {
			paths.Handle(rt.pattern, http.NotFoundHandler())
		}
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
	}
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			methods := slices.Clone(allowed[pattern])
			if slices.Contains(methods, http.MethodGet) {
				methods = append(methods, http.MethodHead)
			}
			w.Header().Set("Allow", strings.Join(methods, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
			return
		}
		writeError(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
	})
	return s.authenticate(mux)
}

// authenticate admits requests whose bearer token names a live (not
// revoked, not expired) token. Only the token's hash is sent to the
// store, which holds nothing else. A viewer token may only read: any
// other method is refused with 403, as is every credential route.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		hash := ""
		if ok {
			hash = auth.Hash(token)
		}
		if !s.guard.Check(w, r, limits.APIToken, hash) {
			return
		}
		if !ok {
			s.guard.Result(r, false, "api: no bearer token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token in the Authorization header")
			return
		}
		now := s.now()
		tok, err := s.store.APITokenByHash(r.Context(), hash, now)
		if errors.Is(err, store.ErrNotFound) {
			s.guard.Result(r, false, "api: invalid, expired or revoked token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="steward", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid, expired or revoked API token")
			return
		}
		if err != nil {
			s.storeFailed(w, r, "check API token", err)
			return
		}
		s.guard.Result(r, true, "")
		if tok.Role != store.RoleAdmin && !viewerMay(r) {
			writeError(w, http.StatusForbidden, "token "+strconv.Quote(tok.Name)+" has role "+tok.Role+
				": it may only read, and not credentials")
			return
		}
		s.touch(r.Context(), tok, now)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
	})
}

// tokenKey is the request context key of the authenticated token.
type tokenKey struct{}

// requestToken returns the token authenticate admitted the request with.
func requestToken(r *http.Request) store.APIToken {
	tok, _ := r.Context().Value(tokenKey{}).(store.APIToken)
	return tok
}

// viewerMay reports whether a viewer token may make request r: reads,
// except of credentials.
func viewerMay(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return !strings.HasPrefix(r.URL.Path, Prefix+"tokens") && !strings.HasPrefix(r.URL.Path, Prefix+"enroll-secrets")
}

// touchEvery bounds last-used writes: a token used in a tight loop is
// written at most once a minute per server.
const touchEvery = time.Minute

// touch records a token's use unless this server recorded one in the
// last touchEvery. A failure is logged, never shown to the client.
func (s *server) touch(ctx context.Context, tok store.APIToken, now time.Time) {
	s.touchMu.Lock()
	last, seen := s.touched[tok.ID]
	due := !seen || now.Sub(last) >= touchEvery
	if due {
		if s.touched == nil || len(s.touched) > 10000 {
			s.touched = map[int64]time.Time{}
		}
		s.touched[tok.ID] = now
	}
	s.touchMu.Unlock()
	if !due {
		return
	}
	if err := s.store.TouchAPIToken(ctx, tok.ID, now); err != nil {
		s.log.Warn("record API token use", "token", tok.Name, "err", err)
	}
}

// bearerToken extracts the token from an Authorization header value. The
// scheme name is case-insensitive (RFC 9110 section 11.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
