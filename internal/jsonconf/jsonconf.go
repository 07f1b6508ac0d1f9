// Package jsonconf reads sipscope's JSON config files strictly (an unknown
// key, or a value that does not decode, is an error naming the key) and
// holds the value types config files and flags share.
package jsonconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Load decodes path into c, refusing keys c does not have. A
// value that does not decode is reported with its key.
func Load[T any](path string, c *T) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := decodeStrict(b, c); err != nil {
		var keys map[string]json.RawMessage
		if json.Unmarshal(b, &keys) == nil {
			for k, v := range keys {
				var one T
				if kerr := decodeStrict([]byte(`{"`+k+`":`+string(v)+`}`), &one); kerr != nil {
					return fmt.Errorf("config %s in %s: %w", k, path, kerr)
				}
			}
		}
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// SplitList splits "a, b,c" into its non-empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Duration is a time.Duration written "1s", "250ms" in the config file and
// on the command line.
type Duration time.Duration

func (d *Duration) String() string { return time.Duration(*d).String() }

func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"1s\": %w", err)
	}
	return d.Set(s)
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
