package embedded

import (
	"context"
	"os"
	"regexp"
	"testing"
)

// TestExpRowsRead (not committed) prints rows_read of the storebench queries.
func TestExpRowsRead(t *testing.T) {
	dir := os.Getenv("EXP_DIR")
	if dir == "" {
		t.Skip()
	}
	s := open(t, dir)
	defer s.Close()
	ctx := context.Background()
	e := engine{s}
	var id, startUS string
	e.run(ctx, "SELECT call_id, start_us FROM sipscope.calls ORDER BY start_us DESC LIMIT 1 OFFSET 12345 FORMAT TSV", "TSV", func(b []byte) error {
		m := regexp.MustCompile(`^(\S+)\t(\d+)`).FindSubmatch(b)
		id, startUS = string(m[1]), string(m[2])
		return nil
	})
	sel := "call_id, from_user, to_user, src_ip, dst_ip, state, final_code, start_us, end_us, messages, mos, version"
	from := "1767225600000000"
	to := "1767229200000000"
	user := "positionCaseInsensitive(replaceRegexpOne(from_user, '^\\\\+', ''), '123') > 0"
	idx := "start_us GLOBAL IN (SELECT start_us FROM sipscope.call_index WHERE call_id = '" + id + "') AND call_id = '" + id + "'"
	for _, q := range []string{
		"SELECT count() FROM sipscope.calls FINAL",
		"SELECT " + sel + " FROM sipscope.calls FINAL ORDER BY start_us DESC, call_id LIMIT 0, 50",
		"SELECT count() FROM sipscope.calls FINAL WHERE start_us >= " + from + " AND start_us < " + to + " AND " + user,
		"SELECT " + sel + " FROM sipscope.calls FINAL WHERE start_us >= " + from + " AND start_us < " + to + " AND " + user + " ORDER BY start_us DESC, call_id LIMIT 0, 50",
		"SELECT count() FROM sipscope.calls FINAL WHERE " + idx,
		"SELECT DISTINCT start_us FROM sipscope.call_index WHERE call_id = '" + id + "'",
		"SELECT " + sel + " FROM sipscope.calls FINAL WHERE start_us IN (" + startUS + ") AND call_id = '" + id + "' ORDER BY version DESC LIMIT 1",
		"SELECT ts_us, raw, msg_hash FROM sipscope.sip_messages WHERE call_id = '" + id + "' ORDER BY ts_us, seq",
		"SELECT count() FROM sipscope.calls FINAL WHERE call_id = '" + id + "'",
	} {
		err := e.run(ctx, q+" FORMAT JSON", "JSON", func(b []byte) error {
			m := regexp.MustCompile(`"elapsed": ([0-9.e-]+),\s*"rows_read": (\d+),\s*"bytes_read": (\d+)`).FindSubmatch(b)
			if m == nil {
				t.Logf("no stats: %.300s", b)
				return nil
			}
			t.Logf("rows_read %s bytes_read %s elapsed %s s: %.160s", m[2], m[3], m[1], q)
			return nil
		})
		if err != nil {
			t.Logf("%v: %.100s", err, q)
		}
	}
}
