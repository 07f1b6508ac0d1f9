package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// Cookie names. The session cookie is HttpOnly; the CSRF cookie is read by
// the UI's script and echoed in the X-CSRF-Token header (double submit),
// which a cross-site page can neither read nor set.
const (
	SessionCookie = "sipscope_session"
	CSRFCookie    = "sipscope_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// session is one logged-in browser. Sessions live in memory: a restart
// logs everyone out, which is acceptable for a monitoring tool and keeps
// session secrets out of the store.
type session struct {
	user    string
	csrf    string
	expires time.Time
}

// sessions is a bounded table of sessions keyed by the SHA-256 of the
// cookie value, so that a memory dump does not hand out live cookies.
type sessions struct {
	mu      sync.Mutex
	byHash  map[[32]byte]*session
	max     int
	ttl     time.Duration
	evicted func() // counts a session dropped to make room
	now     func() time.Time
}

func newSessions(max int, ttl time.Duration, evicted func()) *sessions {
	return &sessions{byHash: make(map[[32]byte]*session), max: max, ttl: ttl, evicted: evicted, now: time.Now}
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create starts a session for user and returns its cookie value.
func (s *sessions) create(user string) (cookie string, sess *session, err error) {
	cookie, err = randomString(32)
	if err != nil {
		return "", nil, err
	}
	csrf, err := randomString(32)
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	sess = &session{user: user, csrf: csrf, expires: now.Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byHash) >= s.max {
		s.evictLocked(now)
	}
	s.byHash[sha256.Sum256([]byte(cookie))] = sess
	return cookie, sess, nil
}

// evictLocked drops expired sessions, and if none had expired the one
// that expires first.
func (s *sessions) evictLocked(now time.Time) {
	var oldestKey [32]byte
	var oldest *session
	for k, v := range s.byHash {
		if !now.Before(v.expires) {
			delete(s.byHash, k)
			continue
		}
		if oldest == nil || v.expires.Before(oldest.expires) {
			oldest, oldestKey = v, k
		}
	}
	if len(s.byHash) >= s.max && oldest != nil {
		delete(s.byHash, oldestKey)
		if s.evicted != nil {
			s.evicted()
		}
	}
}

// get returns the live session a cookie names.
func (s *sessions) get(cookie string) (*session, bool) {
	if cookie == "" || len(cookie) > 128 {
		return nil, false
	}
	k := sha256.Sum256([]byte(cookie))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byHash[k]
	if !ok {
		return nil, false
	}
	if !s.now().Before(sess.expires) {
		delete(s.byHash, k)
		return nil, false
	}
	return sess, true
}

// delete ends the session a cookie names.
func (s *sessions) delete(cookie string) {
	k := sha256.Sum256([]byte(cookie))
	s.mu.Lock()
	delete(s.byHash, k)
	s.mu.Unlock()
}

// deleteUser ends every session of user (deleted, or password changed).
func (s *sessions) deleteUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byHash {
		if v.user == user {
			delete(s.byHash, k)
		}
	}
}
