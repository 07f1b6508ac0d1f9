package embedded

import (
	"sync"
	"time"
)

// LaneStats tells how reads fared beside writes: whether they ran while a
// write was in progress on the write connection, and whether any had to
// wait for one. Writes never hold up reads by design; these figures let a
// test (and an operator) see that they did not.
type LaneStats struct {
	Reads  uint64 // SELECTs run on the read connections
	Writes uint64 // statements run on the write connection
	// ReadsBesideWrites counts the reads that started while a write
	// statement was in progress: the store ran them side by side.
	ReadsBesideWrites uint64
	// MaxWritesWaitedFor is the most write statements that finished while
	// one read was waiting for its connection. Reads wait only for other
	// reads, so with one reader at a time it stays 0.
	MaxWritesWaitedFor uint64
	ReadWaitMax        time.Duration // the longest a read waited for a connection
	ReadMax            time.Duration // the longest a read took, wait included
}

// laneStats counts what LaneStats reports. Its lock is taken twice per
// statement, never across one.
type laneStats struct {
	mu             sync.Mutex
	st             LaneStats
	writing        int    // write statements in progress (0 or 1)
	writesFinished uint64 // write statements finished so far
}

// readTicket is what a read noted when it began to wait.
type readTicket struct {
	began          time.Time
	writesFinished uint64
}

func (l *laneStats) writeStarted() {
	l.mu.Lock()
	l.writing++
	l.mu.Unlock()
}

func (l *laneStats) writeDone() {
	l.mu.Lock()
	l.writing--
	l.writesFinished++
	l.st.Writes++
	l.mu.Unlock()
}

// readWaiting is called before a read waits for its connection.
func (l *laneStats) readWaiting() readTicket {
	l.mu.Lock()
	defer l.mu.Unlock()
	return readTicket{began: time.Now(), writesFinished: l.writesFinished}
}

// readRunning is called when the read has its connection, before it runs.
func (l *laneStats) readRunning(t readTicket) {
	wait := time.Since(t.began)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.ReadWaitMax = max(l.st.ReadWaitMax, wait)
	l.st.MaxWritesWaitedFor = max(l.st.MaxWritesWaitedFor, l.writesFinished-t.writesFinished)
	if l.writing > 0 {
		l.st.ReadsBesideWrites++
	}
}

func (l *laneStats) readDone(t readTicket) {
	took := time.Since(t.began)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.Reads++
	l.st.ReadMax = max(l.st.ReadMax, took)
}

// LaneStats returns the counts since Open.
func (s *Store) LaneStats() LaneStats {
	s.lanes.mu.Lock()
	defer s.lanes.mu.Unlock()
	return s.lanes.st
}
