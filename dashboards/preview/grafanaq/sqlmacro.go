package grafanaq

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// macroRE is a macro call as Grafana's SQL data sources find them: $name
// followed by a parenthesised argument list that cannot itself contain a
// closing parenthesis.
var macroRE = regexp.MustCompile(`\$([_a-zA-Z0-9]+)\(([^)]*)\)`)

// ExpandSQLMacros expands the PostgreSQL data source's macros in a query
// whose variables were already interpolated, for the time range
// [from, to] and the query interval, the way Grafana's backend does:
//
//	$__interval                   the interval, e.g. 30s
//	$__interval_ms                the interval in milliseconds
//	$__unixEpochFrom()            from, in Unix seconds
//	$__unixEpochTo()              to, in Unix seconds
//	$__time(col)                  col AS "time"
//	$__timeEpoch(col)             extract(epoch from col) as "time"
//	$__timeFilter(col)            col BETWEEN 'from' AND 'to' (RFC 3339, UTC)
//	$__timeFrom()                 'from'
//	$__timeTo()                   'to'
//	$__timeGroup(col, '5m'[, fill])       floor(extract(epoch from col)/300)*300
//	$__timeGroupAlias(col, '5m'[, fill])  the same AS "time"
//	$__unixEpochFilter(col)       col >= from AND col <= to (Unix seconds)
//	$__unixEpochNanoFilter(col)   the same in nanoseconds
//	$__unixEpochNanoFrom()        from in Unix nanoseconds
//	$__unixEpochNanoTo()          to in Unix nanoseconds
//	$__unixEpochGroup(col, '5m'[, fill])      floor((col)/300)*300
//	$__unixEpochGroupAlias(col, '5m'[, fill]) the same AS "time"
//
// The optional fill (NULL, previous, or a number) only changes how
// Grafana fills empty buckets in the result; it is checked and dropped.
// Any other $name(...) is an error, as it is in Grafana.
func ExpandSQLMacros(sql string, from, to time.Time, interval time.Duration) (string, error) {
	from, to = from.UTC(), to.UTC()
	sql = strings.ReplaceAll(sql, "$__interval_ms", strconv.FormatInt(interval.Milliseconds(), 10))
	sql = strings.ReplaceAll(sql, "$__interval", FormatInterval(interval))
	sql = strings.ReplaceAll(sql, "$__unixEpochFrom()", strconv.FormatInt(from.Unix(), 10))
	sql = strings.ReplaceAll(sql, "$__unixEpochTo()", strconv.FormatInt(to.Unix(), 10))
	var firstErr error
	out := macroRE.ReplaceAllStringFunc(sql, func(m string) string {
		g := macroRE.FindStringSubmatch(m)
		args := strings.Split(g[2], ",")
		for i := range args {
			args[i] = strings.TrimSpace(args[i])
		}
		s, err := expandMacro(g[1], args, from, to)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

// expandMacro expands one macro; args are trimmed.
func expandMacro(name string, args []string, from, to time.Time) (string, error) {
	col := func() (string, error) {
		if len(args) == 0 || args[0] == "" {
			return "", fmt.Errorf("macro $%s needs a time column argument", name)
		}
		return args[0], nil
	}
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	switch name {
	case "__time":
		c, err := col()
		return c + ` AS "time"`, err
	case "__timeEpoch":
		c, err := col()
		return "extract(epoch from " + c + `) as "time"`, err
	case "__timeFilter":
		c, err := col()
		return fmt.Sprintf("%s BETWEEN '%s' AND '%s'", c, rfc(from), rfc(to)), err
	case "__timeFrom":
		return "'" + rfc(from) + "'", nil
	case "__timeTo":
		return "'" + rfc(to) + "'", nil
	case "__timeGroup", "__timeGroupAlias", "__unixEpochGroup", "__unixEpochGroupAlias":
		if len(args) < 2 || args[0] == "" {
			return "", fmt.Errorf("macro $%s needs a time column, an interval and optionally a fill value", name)
		}
		iv, err := ParseInterval(args[1])
		if err != nil {
			return "", fmt.Errorf("macro $%s: %w", name, err)
		}
		if iv <= 0 {
			return "", fmt.Errorf("macro $%s: interval %s is not positive", name, args[1])
		}
		if len(args) == 3 {
			if err := checkFill(args[2]); err != nil {
				return "", fmt.Errorf("macro $%s: %w", name, err)
			}
		} else if len(args) > 3 {
			return "", fmt.Errorf("macro $%s: too many arguments", name)
		}
		secs := strconv.FormatFloat(iv.Seconds(), 'f', -1, 64)
		var s string
		if strings.HasPrefix(name, "__timeGroup") {
			s = fmt.Sprintf("floor(extract(epoch from %s)/%s)*%s", args[0], secs, secs)
		} else {
			s = fmt.Sprintf("floor((%s)/%s)*%s", args[0], secs, secs)
		}
		if strings.HasSuffix(name, "Alias") {
			s += ` AS "time"`
		}
		return s, nil
	case "__unixEpochFilter":
		c, err := col()
		return fmt.Sprintf("%s >= %d AND %s <= %d", c, from.Unix(), c, to.Unix()), err
	case "__unixEpochNanoFilter":
		c, err := col()
		return fmt.Sprintf("%s >= %d AND %s <= %d", c, from.UnixNano(), c, to.UnixNano()), err
	case "__unixEpochNanoFrom":
		return strconv.FormatInt(from.UnixNano(), 10), nil
	case "__unixEpochNanoTo":
		return strconv.FormatInt(to.UnixNano(), 10), nil
	}
	return "", fmt.Errorf("undefined macro $%s", name)
}

// checkFill accepts the fill modes of $__timeGroup: NULL, previous, or a
// number.
func checkFill(s string) error {
	switch strings.ToLower(s) {
	case "null", "previous":
		return nil
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil {
		return fmt.Errorf("fill %q is not NULL, previous or a number", s)
	}
	return nil
}

// SQLQuery is a PostgreSQL target made ready to run: variables
// interpolated with SQL quoting, then macros expanded.
func (e *Env) SQLQuery(raw string) (string, error) {
	return ExpandSQLMacros(e.Interpolate(raw, FlavorPostgres), e.From, e.To, e.Interval)
}

// PromQuery is a Prometheus target's expression with its variables and
// Grafana's interval variables interpolated.
func (e *Env) PromQuery(expr string) string { return e.Interpolate(expr, FlavorPrometheus) }
