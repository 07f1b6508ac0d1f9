package api

import (
	"sync"
	"time"
)

// limiter allows at most max events per key in a fixed window. Keys come
// from the network (client addresses, user names typed at the login), so
// the table is bounded: when full, expired windows are dropped first, then
// the oldest window, and the eviction is counted.
type limiter struct {
	mu      sync.Mutex
	windows map[string]*window
	max     int           // events per window
	per     time.Duration // window length
	cap     int           // keys held
	evicted func()
	now     func() time.Time
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(max int, per time.Duration, capacity int, evicted func()) *limiter {
	return &limiter{windows: make(map[string]*window), max: max, per: per, cap: capacity, evicted: evicted, now: time.Now}
}

// blocked reports whether key has used up its window, and when it may try
// again.
func (l *limiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.windows[key]
	if !ok {
		return false, 0
	}
	now := l.now()
	if now.Sub(w.start) >= l.per {
		delete(l.windows, key)
		return false, 0
	}
	if w.n >= l.max {
		return true, w.start.Add(l.per).Sub(now)
	}
	return false, 0
}

// add counts one event for key.
func (l *limiter) add(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w, ok := l.windows[key]
	if ok && now.Sub(w.start) >= l.per {
		w.start, w.n = now, 0
	}
	if !ok {
		if len(l.windows) >= l.cap {
			l.evictLocked(now)
		}
		w = &window{start: now}
		l.windows[key] = w
	}
	w.n++
}

func (l *limiter) evictLocked(now time.Time) {
	var oldestKey string
	var oldest *window
	for k, w := range l.windows {
		if now.Sub(w.start) >= l.per {
			delete(l.windows, k)
			continue
		}
		if oldest == nil || w.start.Before(oldest.start) {
			oldest, oldestKey = w, k
		}
	}
	if len(l.windows) >= l.cap && oldest != nil {
		delete(l.windows, oldestKey)
		if l.evicted != nil {
			l.evicted()
		}
	}
}

// size is the number of keys held (for tests and metrics).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows)
}
