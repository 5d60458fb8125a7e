package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/apiclient"
)

// maxPageLimit mirrors the API's bound, so a bad --limit is a usage error
// before any request.
const maxPageLimit = 1000

func checkLimit(limit int) error {
	if limit < 1 || limit > maxPageLimit {
		return &usageError{msg: fmt.Sprintf("--limit must be from 1 to %d, got %d", maxPageLimit, limit)}
	}
	return nil
}

// collectPages follows next_cursor from the first page to the last and
// returns the items of the list named key, each as the API sent it.
func collectPages(ctx context.Context, c *apiclient.Client, path string, q url.Values, key string) ([]json.RawMessage, error) {
	all := []json.RawMessage{}
	cursor := ""
	for {
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		raw, err := c.Get(ctx, path, q)
		if err != nil {
			return nil, err
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("GET %s: decode page: %w", path, err)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(page[key], &items); err != nil || page[key] == nil {
			return nil, fmt.Errorf("GET %s: response has no %q list", path, key)
		}
		all = append(all, items...)
		var next string
		if nc, ok := page["next_cursor"]; ok {
			if err := json.Unmarshal(nc, &next); err != nil {
				return nil, fmt.Errorf("GET %s: decode next_cursor: %w", path, err)
			}
		}
		if next == "" {
			return all, nil
		}
		// A server that hands back the cursor it was given would loop forever.
		if next == cursor {
			return nil, fmt.Errorf("GET %s: the server returned the same cursor twice", path)
		}
		cursor = next
	}
}

// printJSON writes v indented; json.RawMessage values inside it are
// re-indented too. encoding/json escapes C0 controls, U+2028 and U+2029;
// escapeJSONText also escapes DEL, C1 controls and format characters
// (bidi overrides and isolates...), so printing the JSON on a terminal is
// as inert as a table, and it decodes back to the exact data.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = io.WriteString(w, escapeJSONText(string(b))+"\n")
	return err
}

// decodeAll decodes each raw item into a T.
func decodeAll[T any](items []json.RawMessage) ([]T, error) {
	out := make([]T, 0, len(items))
	for _, raw := range items {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("decode %T: %w", v, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// cell keeps table columns readable when a value is empty. Escaping is
// the table's (table.row).
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeCell(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// formatBytes writes a size in binary units, as free(1) -h does.
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
