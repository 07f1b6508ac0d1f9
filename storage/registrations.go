package storage

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sipscope/sipscope/correlate"
)

// RegistrationFilter selects registrations for listing. Zero values mean
// "any".
type RegistrationFilter struct {
	From, To   time.Time  // exchange start within [From, To)
	AoR        string     // substring of the address of record, case-insensitive
	Contact    string     // substring of the Contact URI, case-insensitive
	UserAgent  string     // substring of the User-Agent, case-insensitive
	IP         netip.Addr // source address of the REGISTERs
	FinalCode  int
	Failed     *bool // the last final response is a failure (or there was none)
	Challenged *bool // a 401/407 was seen
	Limit      int   // default 50, max 1000
	Offset     int
}

// RegistrationPage is one page of registrations, newest first, with the
// total that matched.
type RegistrationPage struct {
	Registrations []correlate.Registration
	Total         int
}

// RegistrationDetail is every registration exchange of one Call-ID (a UA
// refreshing its binding reuses it) with the SIP messages of that Call-ID.
type RegistrationDetail struct {
	Registrations []correlate.Registration
	Messages      []correlate.Message
}

const registrationSelect = "call_id, aor, challenged, final_code, start_us, end_us, messages, src_ip, " +
	"contact, expires, user_agent, attempts, succeeded_us, failed"

type registrationScan struct {
	callID, aor    string
	challenged     uint8
	finalCode      uint16
	startUS, endUS uint64
	messages       uint32
	srcIP, contact string
	expires        int64
	userAgent      string
	attempts       uint32
	succeededUS    uint64
	failed         uint8
}

func (s *registrationScan) dest() []any {
	return []any{&s.callID, &s.aor, &s.challenged, &s.finalCode, &s.startUS, &s.endUS, &s.messages, &s.srcIP,
		&s.contact, &s.expires, &s.userAgent, &s.attempts, &s.succeededUS, &s.failed}
}

func (s *registrationScan) registration() (correlate.Registration, error) {
	src, err := parseAddr(s.srcIP)
	if err != nil {
		return correlate.Registration{}, err
	}
	return correlate.Registration{
		CallID: s.callID, AoR: s.aor, Challenged: s.challenged != 0, FinalCode: int(s.finalCode),
		Start: timeOfMicros(s.startUS), End: timeOfMicros(s.endUS), Messages: int(s.messages), SrcIP: src,
		Contact: s.contact, Expires: int(s.expires), UserAgent: s.userAgent, Attempts: int(s.attempts),
		SucceededAt: timeOfMicros(s.succeededUS), Failed: s.failed != 0,
	}, nil
}

// ListRegistrations runs the registration list for f against database db:
// newest first (ties by Call-ID), and how many matched.
func ListRegistrations(ctx context.Context, q Querier, db string, f RegistrationFilter) (RegistrationPage, error) {
	where, limit, err := registrationWhere(f)
	if err != nil {
		return RegistrationPage{}, err
	}
	from := " FROM " + db + "." + TableRegistrations + " FINAL"
	var page RegistrationPage
	var total uint64
	if err := q.Query(ctx, "SELECT count()"+from+where, []any{&total}, func() error { return nil }); err != nil {
		return RegistrationPage{}, fmt.Errorf("storage: count registrations: %w", err)
	}
	page.Total = int(total)
	var s registrationScan
	err = q.Query(ctx, "SELECT "+registrationSelect+from+where+
		" ORDER BY start_us DESC, call_id LIMIT "+QuoteInt(int64(f.Offset))+", "+QuoteInt(int64(limit)),
		s.dest(), func() error {
			r, err := s.registration()
			page.Registrations = append(page.Registrations, r)
			return err
		})
	if err != nil {
		return RegistrationPage{}, fmt.Errorf("storage: list registrations: %w", err)
	}
	return page, nil
}

func registrationWhere(f RegistrationFilter) (where string, limit int, err error) {
	if f.Limit < 0 || f.Offset < 0 {
		return "", 0, fmt.Errorf("%w: negative limit or offset", ErrInvalidFilter)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return "", 0, fmt.Errorf("%w: time range ends before it starts", ErrInvalidFilter)
	}
	if f.FinalCode < 0 || f.FinalCode > 65535 {
		return "", 0, fmt.Errorf("%w: final code %d", ErrInvalidFilter, f.FinalCode)
	}
	limit = f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var conds []string
	if !f.From.IsZero() {
		conds = append(conds, "start_us >= "+QuoteUint(microsOf(f.From)))
	}
	if !f.To.IsZero() {
		conds = append(conds, "start_us < "+QuoteUint(microsOf(f.To)))
	}
	if f.AoR != "" {
		conds = append(conds, contains("aor", f.AoR))
	}
	if f.Contact != "" {
		conds = append(conds, contains("contact", f.Contact))
	}
	if f.UserAgent != "" {
		conds = append(conds, contains("user_agent", f.UserAgent))
	}
	if f.IP.IsValid() {
		conds = append(conds, "src_ip = "+QuoteString(f.IP.String()))
	}
	if f.FinalCode != 0 {
		conds = append(conds, "final_code = "+QuoteInt(int64(f.FinalCode)))
	}
	if f.Failed != nil {
		conds = append(conds, "failed = "+QuoteUint(uint64(flag(*f.Failed))))
	}
	if f.Challenged != nil {
		conds = append(conds, "challenged = "+QuoteUint(uint64(flag(*f.Challenged))))
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return where, limit, nil
}

// GetRegistration reads every exchange of one registration Call-ID, oldest
// first, with its SIP messages. ErrNotFound when there is none.
func GetRegistration(ctx context.Context, q Querier, db, callID string) (RegistrationDetail, error) {
	id := QuoteString(callID)
	var d RegistrationDetail
	var s registrationScan
	err := q.Query(ctx, "SELECT "+registrationSelect+" FROM "+db+"."+TableRegistrations+" FINAL WHERE call_id = "+id+
		" ORDER BY start_us", s.dest(), func() error {
		r, err := s.registration()
		d.Registrations = append(d.Registrations, r)
		return err
	})
	if err != nil {
		return RegistrationDetail{}, fmt.Errorf("storage: get registration: %w", err)
	}
	if len(d.Registrations) == 0 {
		return RegistrationDetail{}, fmt.Errorf("%w: registration %q", ErrNotFound, callID)
	}
	var ms messageScan
	err = q.Query(ctx, "SELECT "+messageSelect+" FROM "+db+"."+TableMessages+" FINAL WHERE call_id = "+id+
		" ORDER BY ts_us, seq", ms.dest(), func() error {
		m, err := ms.message()
		d.Messages = append(d.Messages, m)
		return err
	})
	if err != nil {
		return RegistrationDetail{}, fmt.Errorf("storage: get registration messages: %w", err)
	}
	return d, nil
}
