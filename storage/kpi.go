package storage

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// KPIFilter selects the calls and registrations KPIs are computed over:
// those that started in [From, To), in buckets of Step, optionally
// grouped.
type KPIFilter struct {
	From, To time.Time
	Step     time.Duration
	// GroupBy is "", "src_ip", "dst_ip", "user_agent" or "prefix" (the
	// first PrefixLen characters of the called number).
	GroupBy   string
	PrefixLen int
}

// Bounds of a KPI query.
const (
	MinKPIStep    = time.Minute
	MaxKPIBuckets = 2000
	MaxKPIGroups  = 50 // groups per bucket; the busiest are kept
)

// MOS bands of the KPI distribution (ITU-T G.107 Annex B user
// satisfaction: 4.03 and up "satisfied", below 3.60 "many dissatisfied").
const (
	MOSGood = 4.03
	MOSFair = 3.60
)

// KPIBucket is one time bucket (and group) of KPIs. Counts are of calls
// that started in the bucket; ratios are 0 when their denominator is.
type KPIBucket struct {
	Start time.Time
	Group string

	Attempts   int // INVITE dialogs seen from their INVITE
	Answered   int
	Redirected int // final 3xx
	UserFailed int // final 480, 486, 600 or 603: the called user, not the network
	// ASR = Answered / Attempts (ITU-T E.411 answer seizure ratio).
	ASR float64
	// NER = (Answered + UserFailed) / (Attempts - Redirected): E.411's
	// network effectiveness ratio, computed as RFC 6076's SEER.
	NER float64
	// SER = Answered / (Attempts - Redirected) (RFC 6076).
	SER float64
	// ACD is the mean duration of the answered calls, seconds.
	ACD float64
	// PDD of the calls that had one (RFC 6076 session request delay), ms.
	PDDAvgMs, PDDP95Ms float64
	// MOS of the calls that had RTP: at or above MOSGood, between, below
	// MOSFair.
	MOSGood, MOSFair, MOSPoor int
	// ConcurrentAvg is the mean number of answered calls in progress over
	// the bucket (talk time inside it / its length).
	ConcurrentAvg float64

	Registrations         int // REGISTER exchanges started in the bucket
	RegistrationSucceeded int
	// RegistrationSuccess = RegistrationSucceeded / Registrations.
	RegistrationSuccess float64
}

// kpiGroupExpr is the SQL of each grouping (on the calls table).
func kpiGroupExpr(f KPIFilter) (string, error) {
	switch f.GroupBy {
	case "":
		return "''", nil
	case "src_ip", "dst_ip", "user_agent":
		return f.GroupBy, nil
	case "prefix":
		if f.PrefixLen < 1 || f.PrefixLen > 32 {
			return "", fmt.Errorf("%w: prefix length %d: want 1 to 32", ErrInvalidFilter, f.PrefixLen)
		}
		return "substring(replaceRegexpOne(to_user, '^\\\\+', ''), 1, " + strconv.Itoa(f.PrefixLen) + ")", nil
	}
	return "", fmt.Errorf("%w: group by %q", ErrInvalidFilter, f.GroupBy)
}

// KPIs computes f's buckets in database db, ordered by start then group.
// Every value in the SQL is a number or a fixed column expression.
func KPIs(ctx context.Context, q Querier, db string, f KPIFilter) ([]KPIBucket, error) {
	if !f.From.Before(f.To) || f.Step < MinKPIStep {
		return nil, fmt.Errorf("%w: KPIs need from < to and a step of at least %v", ErrInvalidFilter, MinKPIStep)
	}
	if n := f.To.Sub(f.From) / f.Step; n > MaxKPIBuckets {
		return nil, fmt.Errorf("%w: %d buckets, at most %d", ErrInvalidFilter, n, MaxKPIBuckets)
	}
	group, err := kpiGroupExpr(f)
	if err != nil {
		return nil, err
	}
	from, to := strconv.FormatInt(f.From.UnixMicro(), 10), strconv.FormatInt(f.To.UnixMicro(), 10)
	step := strconv.FormatInt(f.Step.Microseconds(), 10)
	calls := db + "." + TableCalls + " FINAL"
	bucket := "intDiv(start_us - " + from + ", " + step + ")"
	type key struct {
		b int64
		g string
	}
	out := map[key]*KPIBucket{}
	get := func(b int64, g string) *KPIBucket {
		k := key{b, g}
		if out[k] == nil {
			out[k] = &KPIBucket{Start: f.From.Add(time.Duration(b) * f.Step).UTC(), Group: g}
		}
		return out[k]
	}

	var (
		b                                          int64
		g                                          string
		attempts, answered, redirected, userFailed uint64
		good, fair, poor                           uint64
		talkMs, pddAvg, pddP95                     float64
		registrations, registered                  uint64
		busyUs                                     float64
	)
	err = q.Query(ctx, "SELECT toInt64("+bucket+") AS b, toString("+group+") AS g, count(), countIf(state = 'answered'), "+
		"countIf(final_code >= 300 AND final_code < 400), countIf(state != 'answered' AND final_code IN (480, 486, 600, 603)), "+
		"sumIf(duration_ms, state = 'answered'), avgIf(pdd_ms, pdd_ms > 0), quantileIf(0.95)(pdd_ms, pdd_ms > 0), "+
		"countIf(mos >= "+fmtFloat(MOSGood)+"), countIf(mos >= "+fmtFloat(MOSFair)+" AND mos < "+fmtFloat(MOSGood)+"), countIf(mos > 0 AND mos < "+fmtFloat(MOSFair)+") "+
		"FROM "+calls+" WHERE start_us >= "+from+" AND start_us < "+to+" GROUP BY b, g",
		[]any{&b, &g, &attempts, &answered, &redirected, &userFailed, &talkMs, &pddAvg, &pddP95, &good, &fair, &poor},
		func() error {
			k := get(b, g)
			k.Attempts, k.Answered, k.Redirected, k.UserFailed = int(attempts), int(answered), int(redirected), int(userFailed)
			k.ACD = ratio(talkMs/1000, float64(answered))
			k.PDDAvgMs, k.PDDP95Ms = finite(pddAvg), finite(pddP95)
			k.MOSGood, k.MOSFair, k.MOSPoor = int(good), int(fair), int(poor)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: call KPIs: %w", err)
	}

	// Talk time per bucket: each answered call is spread over the buckets
	// its talk time (answer to end) overlaps.
	ans := "toUInt64(start_us + answer_ms * 1000)"
	end := "toUInt64(start_us + (answer_ms + duration_ms) * 1000)"
	err = q.Query(ctx, "SELECT toInt64(b) AS bb, g, toFloat64(sum(least(e, "+from+" + (b + 1) * "+step+") - greatest(a, "+from+" + b * "+step+"))) FROM ("+
		"SELECT "+ans+" AS a, "+end+" AS e, toString("+group+") AS g, "+
		"arrayJoin(range(toUInt64(intDiv(greatest(a, "+from+") - "+from+", "+step+")), toUInt64(intDiv(least(e, "+to+") - 1 - "+from+", "+step+") + 1))) AS b "+
		"FROM "+calls+" WHERE state = 'answered' AND duration_ms > 0 AND "+end+" > "+from+" AND "+ans+" < "+to+") GROUP BY bb, g",
		[]any{&b, &g, &busyUs}, func() error {
			get(b, g).ConcurrentAvg = busyUs / float64(f.Step.Microseconds())
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: concurrent calls: %w", err)
	}

	// Registrations group by what they have: the source and user agent.
	regGroup := "''"
	if f.GroupBy == "src_ip" || f.GroupBy == "user_agent" {
		regGroup = f.GroupBy
	}
	err = q.Query(ctx, "SELECT toInt64("+bucket+") AS b, toString("+regGroup+") AS g, count(), countIf(final_code >= 200 AND final_code < 300) "+
		"FROM "+db+"."+TableRegistrations+" FINAL WHERE start_us >= "+from+" AND start_us < "+to+" GROUP BY b, g",
		[]any{&b, &g, &registrations, &registered}, func() error {
			k := get(b, g)
			k.Registrations, k.RegistrationSucceeded = int(registrations), int(registered)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("storage: registration KPIs: %w", err)
	}

	res := make([]KPIBucket, 0, len(out))
	for _, k := range out {
		k.ASR = ratio(float64(k.Answered), float64(k.Attempts))
		k.SER = ratio(float64(k.Answered), float64(k.Attempts-k.Redirected))
		k.NER = ratio(float64(k.Answered+k.UserFailed), float64(k.Attempts-k.Redirected))
		k.RegistrationSuccess = ratio(float64(k.RegistrationSucceeded), float64(k.Registrations))
		res = append(res, *k)
	}
	sort.Slice(res, func(i, j int) bool {
		if !res[i].Start.Equal(res[j].Start) {
			return res[i].Start.Before(res[j].Start)
		}
		if res[i].Attempts != res[j].Attempts {
			return res[i].Attempts > res[j].Attempts
		}
		return res[i].Group < res[j].Group
	})
	return capGroups(res), nil
}

// capGroups keeps the MaxKPIGroups busiest groups of each bucket (res is
// sorted by start, then attempts).
func capGroups(res []KPIBucket) []KPIBucket {
	kept := res[:0]
	n := 0
	for i, k := range res {
		if i > 0 && !k.Start.Equal(res[i-1].Start) {
			n = 0
		}
		if n++; n <= MaxKPIGroups {
			kept = append(kept, k)
		}
	}
	return kept
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// finite turns the NaN of an aggregate over no rows into 0.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
