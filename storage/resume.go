package storage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/sipscope/sipscope/correlate"
)

// OpenCallMessages calls fn with every stored SIP message of the calls that
// were not finished when last written and whose latest message is at or
// after since (at most limit calls, the most recent), in capture order. A
// restarted pipeline replays them to continue those calls where it left
// off.
func OpenCallMessages(ctx context.Context, q Querier, db string, since time.Time, limit int, fn func(correlate.Message) error) error {
	if limit <= 0 {
		return fmt.Errorf("%w: limit %d", ErrInvalidFilter, limit)
	}
	open := "SELECT call_id FROM " + db + "." + TableCalls + " FINAL WHERE finished = 0 AND end_us >= " +
		strconv.FormatInt(max(since.UnixMicro(), 0), 10) + " ORDER BY end_us DESC LIMIT " + strconv.Itoa(limit)
	var ms messageScan
	err := q.Query(ctx,
		"SELECT "+messageSelect+" FROM "+db+"."+TableMessages+" FINAL WHERE call_id GLOBAL IN ("+open+") ORDER BY ts_us, seq",
		ms.dest(), func() error {
			m, err := ms.message()
			if err != nil {
				return err
			}
			return fn(m)
		})
	if err != nil {
		return fmt.Errorf("storage: messages of open calls: %w", err)
	}
	return nil
}
