package api

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiterBlocksWithinAWindowAndForgetsAfterIt(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(3, time.Minute, 100, nil)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if b, _ := l.blocked("10.0.0.1"); b {
			t.Fatalf("blocked after %d events", i)
		}
		l.add("10.0.0.1")
	}
	b, wait := l.blocked("10.0.0.1")
	if !b || wait != time.Minute {
		t.Fatalf("after 3 events: blocked %v wait %v, want true 1m", b, wait)
	}
	if b, _ := l.blocked("10.0.0.2"); b {
		t.Fatal("another key is blocked")
	}
	now = now.Add(time.Minute)
	if b, _ := l.blocked("10.0.0.1"); b {
		t.Fatal("still blocked after the window")
	}
}

func TestLimiterTableIsBoundedAndCountsEvictions(t *testing.T) {
	now := time.Unix(1000, 0)
	evicted := 0
	l := newLimiter(1, time.Minute, 3, func() { evicted++ })
	l.now = func() time.Time { return now }
	for i := 0; i < 10; i++ {
		now = now.Add(time.Second)
		l.add("user" + strconv.Itoa(i))
	}
	if l.size() != 3 || evicted != 7 {
		t.Fatalf("size %d evicted %d, want 3 and 7", l.size(), evicted)
	}
	// The newest keys are the ones kept.
	if b, _ := l.blocked("user9"); !b {
		t.Error("the newest key was evicted")
	}
	// Expired windows make room without counting as evictions.
	now = now.Add(2 * time.Minute)
	l.add("fresh")
	if l.size() != 1 || evicted != 7 {
		t.Fatalf("after expiry: size %d evicted %d, want 1 and 7", l.size(), evicted)
	}
}

func TestSessionTableIsBoundedAndExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	evicted := 0
	s := newSessions(2, time.Hour, func() { evicted++ })
	s.now = func() time.Time { return now }
	a, _, err := s.create("a")
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	b, _, _ := s.create("b")
	now = now.Add(time.Second)
	c, _, _ := s.create("c")
	if _, ok := s.get(a); ok || evicted != 1 {
		t.Fatalf("oldest session kept (evicted %d)", evicted)
	}
	if _, ok := s.get(b); !ok {
		t.Fatal("session b lost")
	}
	now = now.Add(time.Hour)
	if _, ok := s.get(c); ok {
		t.Fatal("session c outlived its TTL")
	}
	if _, ok := s.get(""); ok {
		t.Fatal("an empty cookie names a session")
	}
}

func TestTokensHaveTheirIDInsideAndOnlyTheirHashIsKept(t *testing.T) {
	secret, rec, err := NewToken("alice", "grafana")
	if err != nil {
		t.Fatal(err)
	}
	id, ok := tokenID(secret)
	if !ok || id != rec.ID || rec.Hash != tokenHash(secret) || len(rec.Hash) != 64 {
		t.Fatalf("token %q record %+v", secret, rec)
	}
	for _, bad := range []string{"", "ssk_", secret[:len(secret)-1], "xyz" + secret[3:], "ssk_zzzzzzzzzzzzzzzz_" + secret[21:]} {
		if _, ok := tokenID(bad); ok {
			t.Errorf("tokenID(%q) accepted", bad)
		}
	}
	other, _, _ := NewToken("alice", "")
	if other == secret {
		t.Fatal("two tokens are equal")
	}
}

func TestPasswordsAreHashedAndCheckedWithinLimits(t *testing.T) {
	if _, err := HashPassword("short"); err == nil {
		t.Error("a 5-byte password was accepted")
	}
	if _, err := HashPassword(string(make([]byte, 73))); err == nil {
		t.Error("a 73-byte password was accepted")
	}
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !checkPassword(h, "correct horse") || checkPassword(h, "correct horsf") || checkPassword("", "") {
		t.Error("checkPassword disagrees")
	}
}
