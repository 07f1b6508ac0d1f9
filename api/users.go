package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sipscope/sipscope/storage"
)

// maxAuthBody bounds the JSON bodies of the login and admin routes.
const maxAuthBody = 4 << 10

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

type loginView struct {
	User      string `json:"user"`
	Role      string `json:"role"`
	CSRFToken string `json:"csrf_token"`
}

type meView struct {
	User string `json:"user"`
	Role string `json:"role"`
	// Auth is how the request was authenticated: session, token, or open
	// (no users defined, or auth mode none).
	Auth string `json:"auth"`
}

type userView struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

type userRequest struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// userChange changes what it has: an empty field is left as it was.
type userChange struct {
	Role     string `json:"role,omitempty"`
	Password string `json:"password,omitempty"`
}

type tokenView struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

type tokenRequest struct {
	User string `json:"user"`
	Name string `json:"name"`
}

type newTokenView struct {
	tokenView
	// Token is the secret to send as "Authorization: Bearer <token>"; it
	// is shown here once and stored only as a hash.
	Token string `json:"token"`
}

func newUserView(u storage.User) userView {
	return userView{Name: u.Name, Role: u.Role, Created: u.Created.UTC(), Updated: u.Updated.UTC()}
}

func newTokenViewOf(t storage.Token) tokenView {
	return tokenView{ID: t.ID, User: t.User, Name: t.Name, Created: t.Created.UTC()}
}

// readJSON decodes a small JSON body into v, answering the error itself.
// Only application/json is taken: an HTML form cannot send it across
// sites without a CORS preflight, which this server never grants.
func (s *Server) readJSON(c *gin.Context, v any) bool {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != jsonType {
		c.JSON(http.StatusUnsupportedMediaType, gin.H{"error": "the body must be application/json"})
		return false
	}
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, maxAuthBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "the body is not the expected JSON object"})
		return false
	}
	return true
}

func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if !s.readJSON(c, &req) {
		s.metrics.logins.WithLabelValues("bad_request").Inc()
		return
	}
	ip := c.ClientIP()
	if blocked, wait := s.loginIP.blocked(ip); blocked {
		s.tooManyLogins(c, wait)
		return
	}
	// Longer names are never valid; cutting them keeps the table's keys small.
	userKey := req.User
	if len(userKey) > maxUserName+1 {
		userKey = userKey[:maxUserName+1]
	}
	if blocked, wait := s.loginUsr.blocked(userKey); blocked {
		s.tooManyLogins(c, wait)
		return
	}
	s.loginIP.add(ip)
	var u storage.User
	if s.auth.store != nil && ValidUserName(req.User) {
		var err error
		u, err = s.auth.store.GetUser(c.Request.Context(), req.User)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			s.storeFailed(c, "login", err)
			return
		}
	}
	_, known := roleAccess(u.Role)
	if !checkPassword(u.PasswordHash, req.Password) || !known {
		s.loginUsr.add(userKey)
		s.metrics.logins.WithLabelValues("bad_credentials").Inc()
		s.log.Info("api login failed", "user", userKey, "client", ip, "request_id", requestIDOf(c))
		c.JSON(http.StatusUnauthorized, gin.H{"error": "wrong user name or password"})
		return
	}
	cookie, sess, err := s.sessions.create(u.Name)
	if err != nil {
		s.storeFailed(c, "create session", err)
		return
	}
	secure := c.Request.TLS != nil
	maxAge := int(s.cfg.SessionTTL / time.Second)
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: cookie, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(c.Writer, &http.Cookie{Name: CSRFCookie, Value: sess.csrf, Path: "/", MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteStrictMode})
	s.metrics.logins.WithLabelValues("ok").Inc()
	s.log.Info("api login", "user", u.Name, "client", ip)
	c.JSON(http.StatusOK, loginView{User: u.Name, Role: u.Role, CSRFToken: sess.csrf})
}

func (s *Server) tooManyLogins(c *gin.Context, wait time.Duration) {
	s.metrics.logins.WithLabelValues("rate_limited").Inc()
	secs := int(wait/time.Second) + 1
	c.Header("Retry-After", strconv.Itoa(secs))
	c.JSON(http.StatusTooManyRequests, gin.H{"error": "too many login attempts; try again later", "retry_after_s": secs})
}

func (s *Server) logout(c *gin.Context) {
	if cookie, err := c.Cookie(SessionCookie); err == nil {
		s.sessions.delete(cookie)
	}
	secure := c.Request.TLS != nil
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: name == SessionCookie, Secure: secure, SameSite: http.SameSiteStrictMode})
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) me(c *gin.Context) {
	p := principalOf(c)
	c.JSON(http.StatusOK, meView{User: p.user, Role: p.role, Auth: p.via})
}

// users answers 501 when the store keeps no users.
func (s *Server) users(c *gin.Context) (AuthStore, bool) {
	if s.auth.store == nil {
		c.JSON(http.StatusNotImplemented, gin.H{"error": "this store keeps no users"})
		return nil, false
	}
	return s.auth.store, true
}

func (s *Server) listUsers(c *gin.Context) {
	st, ok := s.users(c)
	if !ok {
		return
	}
	answerList(s, c, "list users", st.ListUsers, newUserView)
}

func (s *Server) addUser(c *gin.Context) {
	st, ok := s.users(c)
	if !ok {
		return
	}
	var req userRequest
	if !s.readJSON(c, &req) {
		return
	}
	if !ValidUserName(req.Name) {
		s.badRequest(c, badParam("name", "1 to %d letters, digits or . _ @ -", maxUserName))
		return
	}
	if !ValidRole(req.Role) {
		s.badRequest(c, badParam("role", "%q is not admin, operator or viewer", req.Role))
		return
	}
	hash, err := HashPassword(req.Password)
	if err != nil {
		s.badRequest(c, badParam("password", "%d to %d bytes", MinPasswordLen, MaxPasswordLen))
		return
	}
	ctx := c.Request.Context()
	if _, err := st.GetUser(ctx, req.Name); err == nil {
		c.JSON(http.StatusConflict, gin.H{"error": "user exists", "name": req.Name})
		return
	} else if !errors.Is(err, storage.ErrNotFound) {
		s.storeFailed(c, "add user", err)
		return
	}
	u := storage.User{Name: req.Name, Role: req.Role, PasswordHash: hash, Created: time.Now()}
	if err := st.PutUser(ctx, u); err != nil {
		s.storeFailed(c, "add user", err)
		return
	}
	s.auth.users.Store(1)
	s.log.Info("api user added", "user", u.Name, "role", u.Role, "by", principalOf(c).user)
	u.Updated = u.Created
	c.JSON(http.StatusCreated, newUserView(u))
}

// pathName reads and checks the :name segment.
func (s *Server) pathName(c *gin.Context) (string, bool) {
	name, err := url.PathUnescape(c.Param("name"))
	if err != nil || !ValidUserName(name) {
		s.badRequest(c, badParam("name", "not a user name"))
		return "", false
	}
	return name, true
}

func (s *Server) changeUser(c *gin.Context) {
	st, ok := s.users(c)
	if !ok {
		return
	}
	name, ok := s.pathName(c)
	if !ok {
		return
	}
	var req userChange
	if !s.readJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	u, err := st.GetUser(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such user", "name": name})
		return
	}
	if err != nil {
		s.storeFailed(c, "change user", err)
		return
	}
	if req.Role != "" {
		if !ValidRole(req.Role) {
			s.badRequest(c, badParam("role", "%q is not admin, operator or viewer", req.Role))
			return
		}
		if u.Role == RoleAdmin && req.Role != RoleAdmin {
			if last, ok := s.lastAdmin(c, st, name); !ok {
				return
			} else if last {
				c.JSON(http.StatusConflict, gin.H{"error": "the last admin keeps the admin role"})
				return
			}
		}
		u.Role = req.Role
	}
	if req.Password != "" {
		hash, err := HashPassword(req.Password)
		if err != nil {
			s.badRequest(c, badParam("password", "%d to %d bytes", MinPasswordLen, MaxPasswordLen))
			return
		}
		u.PasswordHash = hash
	}
	if err := st.PutUser(ctx, u); err != nil {
		s.storeFailed(c, "change user", err)
		return
	}
	if req.Password != "" {
		// A new password ends the sessions the old one opened.
		s.sessions.deleteUser(name)
	}
	s.log.Info("api user changed", "user", name, "role", u.Role, "password", req.Password != "", "by", principalOf(c).user)
	u.Updated = time.Now()
	c.JSON(http.StatusOK, newUserView(u))
}

// lastAdmin reports whether name is the only admin; false, false when
// the store failed (answered).
func (s *Server) lastAdmin(c *gin.Context, st AuthStore, name string) (last, ok bool) {
	us, err := st.ListUsers(c.Request.Context())
	if err != nil {
		s.storeFailed(c, "list users", err)
		return false, false
	}
	for _, u := range us {
		if u.Role == RoleAdmin && u.Name != name {
			return false, true
		}
	}
	return true, true
}

func (s *Server) deleteUser(c *gin.Context) {
	st, ok := s.users(c)
	if !ok {
		return
	}
	name, ok := s.pathName(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u, err := st.GetUser(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such user", "name": name})
		return
	}
	if err != nil {
		s.storeFailed(c, "delete user", err)
		return
	}
	if u.Role == RoleAdmin {
		if last, ok := s.lastAdmin(c, st, name); !ok {
			return
		} else if last {
			// Deleting the last admin would leave nobody able to manage
			// users, or, if it were the last user, open the server.
			c.JSON(http.StatusConflict, gin.H{"error": "the last admin cannot be deleted"})
			return
		}
	}
	if err := st.DeleteUser(ctx, name); err != nil {
		s.storeFailed(c, "delete user", err)
		return
	}
	s.sessions.deleteUser(name)
	s.log.Info("api user deleted", "user", name, "by", principalOf(c).user)
	c.Status(http.StatusNoContent)
}

func (s *Server) listTokens(c *gin.Context) {
	st, ok := s.users(c)
	if !ok {
		return
	}
	answerList(s, c, "list tokens", st.ListTokens, newTokenViewOf)
}

// answerList answers with the views of what list returns, or the store's
// failure.
func answerList[T, V any](s *Server, c *gin.Context, op string, list func(context.Context) ([]T, error), view func(T) V) {
	recs, err := list(c.Request.Context())
	if err != nil {
		s.storeFailed(c, op, err)
		return
	}
	out := make([]V, 0, len(recs))
	for _, r := range recs {
		out = append(out, view(r))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) addToken(c *gin.Context) {
	st, ok := s.users(c)
	if !ok {
		return
	}
	var req tokenRequest
	if !s.readJSON(c, &req) {
		return
	}
	if req.User == "" {
		req.User = principalOf(c).user
	}
	if !ValidUserName(req.User) {
		s.badRequest(c, badParam("user", "not a user name"))
		return
	}
	if len(req.Name) > 128 {
		s.badRequest(c, badParam("name", "longer than 128 bytes"))
		return
	}
	ctx := c.Request.Context()
	if _, err := st.GetUser(ctx, req.User); errors.Is(err, storage.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such user", "name": req.User})
		return
	} else if err != nil {
		s.storeFailed(c, "add token", err)
		return
	}
	secret, rec, err := NewToken(req.User, req.Name)
	if err != nil {
		s.storeFailed(c, "add token", err)
		return
	}
	rec.Created = time.Now()
	if err := st.PutToken(ctx, rec); err != nil {
		s.storeFailed(c, "add token", err)
		return
	}
	s.log.Info("api token added", "id", rec.ID, "user", rec.User, "by", principalOf(c).user)
	c.JSON(http.StatusCreated, newTokenView{tokenView: newTokenViewOf(rec), Token: secret})
}

func (s *Server) deleteToken(c *gin.Context) {
	st, ok := s.users(c)
	if !ok {
		return
	}
	id, err := url.PathUnescape(c.Param("id"))
	if err != nil || id == "" || len(id) > 64 {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such token"})
		return
	}
	err = st.DeleteToken(c.Request.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such token", "id": id})
		return
	}
	if err != nil {
		s.storeFailed(c, "delete token", err)
		return
	}
	s.log.Info("api token revoked", "id", id, "by", principalOf(c).user)
	c.Status(http.StatusNoContent)
}
