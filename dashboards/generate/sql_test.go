package generate

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The SQL of the dashboards runs against the real schema: the server's
// PostgreSQL migrations are applied to a throwaway cluster, a small fleet
// is written to it, the read-only role is created with
// provisioning/postgres-reader.sql, and every query of every panel,
// variable and annotation is expanded as Grafana would and run as that
// role, with the dashboards' saved variable values, with narrow ones, and
// with hostile ones.
//
// The cluster comes from pg_virtualenv (Debian's postgresql-common, which
// the postgresql-15 package installs): the test runs itself again under
// it, and that run finds the cluster in the PG* variables. pg_virtualenv
// removes the cluster when the run ends.

// sqlChildEnv marks the run of this test inside pg_virtualenv.
const sqlChildEnv = "STEWARD_DASHBOARDS_SQL_TEST_CLUSTER"

func TestSQLQueries(t *testing.T) {
	if os.Getenv(sqlChildEnv) == "" {
		runUnderVirtualenv(t)
		return
	}
	ctx := t.Context()
	reader := setUpDatabase(t, ctx)
	defer reader.Close(context.Background())

	checkReadOnly(t, ctx, reader)

	for _, df := range loadDashboards(t) {
		t.Run(df.name, func(t *testing.T) {
			qs := sqlQueries(df.raw)
			if len(qs) == 0 {
				return
			}
			vars := dashboardVars(t, ctx, reader, df.raw)
			core := CorePanels()[strings.TrimSuffix(df.name, ".json")]

			// The values the dashboard opens with: every query runs, and
			// returns rows on this fleet (each panel has something to
			// show in it, so an empty result is a broken query).
			saved := runAll(t, ctx, reader, qs, vars.saved)
			for _, q := range qs {
				if len(saved[q.where]) == 0 {
					t.Errorf("%s returned no rows with the saved variable values:\n%s", q.where, expandSQL(q.sql, vars.saved))
				}
			}
			for _, title := range core {
				if _, ok := saved["panel "+title]; ok && len(saved["panel "+title]) == 0 {
					t.Errorf("core panel %q returned no rows", title)
				}
			}
			checkSemantics(t, df.name, saved)

			// Narrow choices: one OS, one label, one policy...
			narrow := runAll(t, ctx, reader, qs, vars.narrow)
			checkNarrow(t, df.name, narrow)

			// Values an attacker could put in a URL: they must stay
			// values. No error, and no row where a quote would have
			// widened the filter.
			hostile := runAll(t, ctx, reader, qs, vars.hostile)
			for _, where := range []string{"panel Host list", "panel Software matching the search", "panel Hosts with the package"} {
				if rows, ok := hostile[where]; ok && len(rows) > 0 {
					t.Errorf("%s: hostile variable values returned %d rows, want none", where, len(rows))
				}
			}
		})
	}
}

// runUnderVirtualenv runs this test again inside pg_virtualenv and
// reports its outcome.
func runUnderVirtualenv(t *testing.T) {
	venv, err := exec.LookPath("pg_virtualenv")
	if err != nil {
		t.Fatal("pg_virtualenv not found: the dashboards' SQL cannot be run against PostgreSQL; install it with `apt-get install -y postgresql-15` (it brings postgresql-common's pg_virtualenv)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// -t keeps the cluster's files in a temporary directory even as root
	// (otherwise it is registered under /etc/postgresql); the port is one
	// free now, rather than the first free from 5432, which two runs at
	// once could both pick.
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(venv, "-t", "-c", "-p "+strconv.Itoa(port), self,
		"-test.run=^TestSQLQueries$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), sqlChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the SQL test inside pg_virtualenv failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestSQLQueries") {
		t.Fatalf("the SQL test inside pg_virtualenv did not pass:\n%s", out)
	}
	t.Logf("inside pg_virtualenv:\n%s", lastLines(string(out), 15))
}

// freePort returns a TCP port nothing listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The roles of a real deployment: steward-server's, which owns the
// tables, and the dashboards' reader.
const (
	ownerRole  = "steward"
	readerRole = "steward_grafana"
	readerPass = "reader-secret"
	testDB     = "steward"
)

// setUpDatabase creates the database as the owner role, migrates and
// seeds it, creates the reader with postgres-reader.sql, and returns a
// connection as the reader.
func setUpDatabase(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	admin, err := pgx.Connect(ctx, "") // PG* variables from pg_virtualenv
	if err != nil {
		t.Fatalf("connect to the pg_virtualenv cluster: %v", err)
	}
	defer admin.Close(context.Background())
	for _, stmt := range []string{
		"CREATE ROLE " + ownerRole + " LOGIN",
		"CREATE DATABASE " + testDB + " OWNER " + ownerRole,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	cfg, err := pgx.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = testDB
	owner, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(context.Background())
	// The superuser acts as the owner: the tables belong to it, as they
	// belong to steward-server's role in a deployment.
	if _, err := owner.Exec(ctx, "SET ROLE "+ownerRole); err != nil {
		t.Fatal(err)
	}
	migrations, err := filepath.Glob("../../server/internal/store/postgres/migrations/*.sql")
	if err != nil || len(migrations) == 0 {
		t.Fatalf("no PostgreSQL migrations found: %v", err)
	}
	sort.Strings(migrations)
	for _, m := range migrations {
		body, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := owner.Exec(ctx, string(body)); err != nil {
			t.Fatalf("migration %s: %v", filepath.Base(m), err)
		}
	}
	if _, err := owner.Exec(ctx, seedSQL); err != nil {
		t.Fatalf("seed: %v", err)
	}

	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql not found: install it with `apt-get install -y postgresql-client-15`")
	}
	cmd := exec.Command(psql, "-X", "-q", "-d", testDB, "-v", "owner="+ownerRole, "-v", "password="+readerPass,
		"-f", "../provisioning/postgres-reader.sql")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("postgres-reader.sql: %v\n%s", err, out)
	}
	// A second run must work too: the script says it can be run again.
	cmd = exec.Command(psql, "-X", "-q", "-d", testDB, "-v", "owner="+ownerRole, "-v", "password="+readerPass,
		"-f", "../provisioning/postgres-reader.sql")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("postgres-reader.sql, run again: %v\n%s", err, out)
	}

	rcfg, err := pgx.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	rcfg.Database, rcfg.User, rcfg.Password = testDB, readerRole, readerPass
	reader, err := pgx.ConnectConfig(ctx, rcfg)
	if err != nil {
		t.Fatalf("connect as %s: %v", readerRole, err)
	}
	return reader
}

// checkReadOnly: the reader can read the dashboards' tables and nothing
// else, and cannot write.
func checkReadOnly(t *testing.T, ctx context.Context, reader *pgx.Conn) {
	var ro string
	if err := reader.QueryRow(ctx, "SHOW default_transaction_read_only").Scan(&ro); err != nil || ro != "on" {
		t.Errorf("default_transaction_read_only = %q (%v), want on", ro, err)
	}
	if _, err := reader.Exec(ctx, "UPDATE hosts SET hostname = 'x'"); err == nil {
		t.Error("the reader could update hosts")
	}
	if _, err := reader.Exec(ctx, "SET default_transaction_read_only = off"); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Exec(ctx, "DELETE FROM alerts"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("DELETE as the reader, outside a read-only transaction: %v, want permission denied", err)
	}
	if _, err := reader.Exec(ctx, "RESET default_transaction_read_only"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"api_tokens", "enroll_secrets"} {
		if _, err := reader.Exec(ctx, "SELECT count(*) FROM "+table); err == nil {
			t.Errorf("the reader can read %s", table)
		}
	}
}

// sqlQuery is one SQL query of a dashboard and where it is.
type sqlQuery struct {
	where string // "panel TITLE", "variable NAME" or "annotation NAME"
	sql   string
}

func sqlQueries(d map[string]any) []sqlQuery {
	var out []sqlQuery
	for _, p := range panels(d) {
		for _, tg := range list(p["targets"]) {
			if s := str(obj(tg)["rawSql"]); s != "" {
				out = append(out, sqlQuery{"panel " + str(p["title"]), s})
			}
		}
	}
	for _, v := range list(obj(d["templating"])["list"]) {
		vm := obj(v)
		if vm["type"] == "query" && str(obj(vm["datasource"])["uid"]) == PostgresUID {
			out = append(out, sqlQuery{"variable " + str(vm["name"]), str(vm["query"])})
		}
	}
	for _, a := range list(obj(d["annotations"])["list"]) {
		am := obj(a)
		if s := str(obj(am["target"])["rawSql"]); s != "" {
			out = append(out, sqlQuery{"annotation " + str(am["name"]), s})
		}
	}
	return out
}

// varSets are the values of a dashboard's variables in three scenarios.
type varSets struct {
	saved, narrow, hostile map[string][]string
}

// standIns give the values of the variables that Grafana reads from
// Prometheus, from the same facts in the database.
var standIns = map[string]string{
	"os":       `SELECT DISTINCT COALESCE(NULLIF(os, ''), 'unknown') FROM hosts ORDER BY 1`,
	"rule":     `SELECT DISTINCT rule FROM alerts ORDER BY 1`,
	"receiver": `SELECT DISTINCT receiver FROM notifications ORDER BY 1`,
	"policy":   `SELECT id FROM policies ORDER BY id`,
}

// narrowValues pick one thing each, all present in the seed.
var narrowValues = map[string][]string{
	"os": {"linux"}, "label": {"env=prod"}, "policy": {"ssh-root"}, "severity": {"high"},
	"rule": {"policy-failing"}, "receiver": {"webhook"}, "kind": {"port_opened"},
	"name": {"alpha"}, "search": {"ssl"}, "package": {"openssl"}, "version": {"3.0.13-1~deb12u1"},
	"online_window": {"5 minutes"},
}

// hostile is what a crafted URL could carry.
const hostile = `x' OR '1'='1`

func dashboardVars(t *testing.T, ctx context.Context, conn *pgx.Conn, d map[string]any) varSets {
	t.Helper()
	vs := varSets{saved: map[string][]string{}, narrow: map[string][]string{}, hostile: map[string][]string{}}
	for _, v := range list(obj(d["templating"])["list"]) {
		vm := obj(v)
		name := str(vm["name"])
		var options []string
		switch vm["type"] {
		case "query":
			q := str(vm["query"])
			if str(obj(vm["datasource"])["uid"]) != PostgresUID {
				var ok bool
				if q, ok = standIns[name]; !ok {
					t.Fatalf("variable %s comes from Prometheus and the test has no stand-in for it", name)
				}
			}
			// A variable query may use the variables before it.
			options = queryColumn(t, ctx, conn, expandSQL(q, vs.saved))
		case "custom":
			for _, o := range strings.Split(str(vm["query"]), ",") {
				options = append(options, strings.TrimSpace(o))
			}
		}
		vs.saved[name] = savedValue(vm, options)
		vs.narrow[name] = vs.saved[name]
		if n, ok := narrowValues[name]; ok {
			vs.narrow[name] = n
		}
		vs.hostile[name] = []string{hostile}
		if name == "online_window" {
			vs.hostile[name] = vs.saved[name] // a bad interval is an error, not an injection
		}
		if name == "host" {
			vs.narrow[name] = []string{""} // no host chosen
		}
		if vm["multi"] == true {
			vs.hostile[name] = []string{hostile, ""}
		}
	}
	return vs
}

// savedValue is what the variable holds when the dashboard opens: its
// saved current value, with "All" standing for every option; no saved
// value is the first option.
func savedValue(v map[string]any, options []string) []string {
	cur := obj(v["current"])
	var vals []string
	switch x := cur["value"].(type) {
	case string:
		vals = []string{x}
	case []any:
		for _, e := range x {
			vals = append(vals, str(e))
		}
	}
	if slices.Contains(vals, "$__all") {
		return options
	}
	if len(vals) == 0 && len(options) > 0 {
		return options[:1]
	}
	return vals
}

// queryColumn runs a variable's query and returns its values: the
// __value column when there is one, else the first.
func queryColumn(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("variable query: %v\n%s", err, sql)
	}
	defer rows.Close()
	col := 0
	for i, f := range rows.FieldDescriptions() {
		if f.Name == "__value" {
			col = i
		}
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals[col]))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("variable query: %v\n%s", err, sql)
	}
	return out
}

// row is one result row, column name to value as text.
type row map[string]string

// runAll runs every query with the given variable values and returns the
// rows by query location; a query that fails fails the test.
func runAll(t *testing.T, ctx context.Context, conn *pgx.Conn, qs []sqlQuery, vars map[string][]string) map[string][]row {
	t.Helper()
	out := map[string][]row{}
	for _, q := range qs {
		sql := expandSQL(q.sql, vars)
		if m := regexp.MustCompile(`\$[A-Za-z_{]`).FindString(sql); m != "" {
			t.Errorf("%s: %q left unexpanded:\n%s", q.where, m, sql)
			continue
		}
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.where, err, sql)
			continue
		}
		var got []row
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Errorf("%s: %v", q.where, err)
				break
			}
			r := row{}
			for i, f := range rows.FieldDescriptions() {
				r[f.Name] = fmt.Sprint(vals[i])
			}
			got = append(got, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v\n%s", q.where, err, sql)
			continue
		}
		out[q.where] = append(out[q.where], got...)
	}
	return out
}

// The dashboards' time range in this test: the last seven days.
var (
	testTo   = time.Now().UTC()
	testFrom = testTo.Add(-7 * 24 * time.Hour)
)

var (
	timeFilter = regexp.MustCompile(`\$__timeFilter\(([^)]*)\)`)
	timeGroup  = regexp.MustCompile(`\$__timeGroupAlias\(([^,]*),\s*([^)]*)\)`)
	sqlVarRef  = regexp.MustCompile(`\$\{([A-Za-z0-9_]+):sqlstring\}`)
)

// expandSQL does what Grafana's PostgreSQL data source does to a query
// before sending it: variables first, then the time macros.
func expandSQL(sql string, vars map[string][]string) string {
	sql = strings.ReplaceAll(sql, "$__interval", "1m")
	sql = sqlVarRef.ReplaceAllStringFunc(sql, func(m string) string {
		name := sqlVarRef.FindStringSubmatch(m)[1]
		vals, ok := vars[name]
		if !ok {
			return m // left for the unexpanded check
		}
		quoted := make([]string, len(vals))
		for i, v := range vals {
			quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		if len(quoted) == 0 {
			return "''"
		}
		return strings.Join(quoted, ",")
	})
	stamp := func(t time.Time) string { return "'" + t.Format("2006-01-02T15:04:05.000Z") + "'" }
	sql = timeFilter.ReplaceAllString(sql, "$1 BETWEEN "+stamp(testFrom)+" AND "+stamp(testTo))
	sql = timeGroup.ReplaceAllStringFunc(sql, func(m string) string {
		g := timeGroup.FindStringSubmatch(m)
		d, err := time.ParseDuration(strings.TrimSpace(g[2]))
		if err != nil {
			return m
		}
		secs := strconv.Itoa(int(d.Seconds()))
		return "floor(extract(epoch from " + g[1] + ")/" + secs + ")*" + secs + ` AS "time"`
	})
	sql = strings.ReplaceAll(sql, "$__timeFrom()", stamp(testFrom))
	sql = strings.ReplaceAll(sql, "$__timeTo()", stamp(testTo))
	return sql
}

// column returns one column of rows.
func column(rows []row, name string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r[name])
	}
	sort.Strings(out)
	return out
}

// checkSemantics pins what the seed's fleet must look like on the
// dashboards opened with their saved values.
func checkSemantics(t *testing.T, dashboard string, got map[string][]row) {
	t.Helper()
	want := func(where, col string, values ...string) {
		rows, ok := got[where]
		if !ok {
			return
		}
		sort.Strings(values)
		if c := column(rows, col); !slices.Equal(c, values) {
			t.Errorf("%s %s: %s = %q, want %q", dashboard, where, col, c, values)
		}
	}
	switch dashboard {
	case UIDCompliance + ".json":
		// alpha-02 is exempt from ssh-root by host, win-01 from
		// disk-encryption by its env=lab label.
		want("panel Failing hosts with evidence", "hostname", "alpha-01", "mac-01")
		want("panel Hosts with checks in error", "hostname", "alpha-02")
		want("panel Exemptions expiring within 30 days", "policy", "ssh-root")
		for _, r := range got["panel Failing hosts with evidence"] {
			if r["hostname"] == "alpha-01" && r["evidence"] != "PermitRootLogin yes in /etc/ssh/sshd_config" {
				t.Errorf("alpha-01's evidence = %q, want the failed check's detail only", r["evidence"])
			}
		}
	case UIDFleet + ".json":
		// win-01 disconnected, fresh-01 never connected; mac-01
		// reconnected after its last disconnect and is online.
		want("panel Offline hosts", "hostname", "fresh-01", "win-01")
		want("panel Top changes", "subject", "KB5034441", "openssl", "tcp/8080")
	case UIDInventory + ".json":
		want("panel Host list", "status", "offline", "offline", "online", "online", "online")
		want("panel Possible duplicate hosts", "hostname", "alpha-01", "alpha-02")
		want("panel Hosts with the package", "hostname", "alpha-01", "alpha-02")
		want("panel Inventory collection errors", "section", "ports")
		want("variable label", "v", "(any)", "env=lab", "env=prod", "team=web")
	case UIDHost + ".json":
		// The dashboard opens on the first host by name, alpha-01.
		want("panel Open alerts of the host", "subject", "ssh-root")
		want("panel Exemptions of the host", "policy", "no-telnet")
		want("panel Policy results", "status", "exempt", "fail")
	case UIDAlerts + ".json":
		// The resolved alert is not open.
		want("panel Open alerts", "state", "acknowledged", "firing", "muted")
		want("panel Dead letters", "receiver", "oncall")
		want("panel Oldest pending notifications", "receiver", "webhook")
	}
}

// checkNarrow pins a few panels with one value chosen per variable.
func checkNarrow(t *testing.T, dashboard string, got map[string][]row) {
	t.Helper()
	want := func(where, col string, values ...string) {
		rows, ok := got[where]
		if !ok {
			return
		}
		sort.Strings(values)
		if c := column(rows, col); !slices.Equal(c, values) {
			t.Errorf("%s %s (narrow values): %s = %q, want %q", dashboard, where, col, c, values)
		}
	}
	switch dashboard {
	case UIDInventory + ".json":
		// Linux hosts labelled env=prod whose name contains "alpha".
		want("panel Host list", "hostname", "alpha-01", "alpha-02")
		want("panel Hosts with the package", "hostname", "alpha-01")
		want("panel Software matching the search", "version", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1")
		want("panel Recent changes", "hostname", "alpha-01", "alpha-02")
	case UIDCompliance + ".json":
		want("panel Failing hosts with evidence", "hostname", "alpha-01")
	case UIDAlerts + ".json":
		// Rule policy-failing, severity high.
		want("panel Open alerts", "hostname", "alpha-01")
	}
}

// seedSQL is a small fleet touching every table the dashboards read:
//
//	alpha-01  linux, online, env=prod team=web, fails ssh-root, exempt from
//	          no-telnet by its labels, a collection error, an alert
//	alpha-02  linux, online, a clone of alpha-01 (same hardware UUID),
//	          env=prod, exempt from ssh-root by host, no-telnet in error
//	win-01    windows, disconnected, env=lab: exempt from disk-encryption
//	mac-01    darwin, reconnected after a disconnect: online; fails
//	          disk-encryption, an acknowledged alert
//	fresh-01  enrolled, never connected, no OS yet
const seedSQL = `
INSERT INTO hosts (node_key_hash, hostname, os, platform, os_version, arch, agent_version, enrolled_at,
                   last_seen, connected_at, disconnected_at, last_seq, collected_at, collect_errors,
                   hardware_uuid, machine_id, serial)
VALUES
 ('k1', 'alpha-01', 'linux', 'debian', '12', 'amd64', '0.4.0', now() - interval '2 days',
  now() - interval '10 seconds', now() - interval '1 day', NULL, 10, now() - interval '1 hour', '{"ports": "ss: not found"}',
  '4c4c4544-0042-3510-8052-b4c04f4d4a32', 'aaaa0000aaaa0000aaaa0000aaaa0000', 'SN1'),
 ('k2', 'alpha-02', 'linux', 'debian', '12', 'amd64', '0.4.0', now() - interval '2 hours',
  now() - interval '20 seconds', now() - interval '2 hours', NULL, 5, now() - interval '1 hour', NULL,
  '4c4c4544-0042-3510-8052-b4c04f4d4a32', 'bbbb0000bbbb0000bbbb0000bbbb0000', 'SN2'),
 ('k3', 'win-01', 'windows', 'windows', '10.0.19045', 'amd64', '0.3.9', now() - interval '3 days',
  now() - interval '2 hours', now() - interval '3 hours', now() - interval '2 hours', 7, now() - interval '3 hours', NULL,
  '', '', ''),
 ('k4', 'fresh-01', '', '', '', '', '', now() - interval '5 minutes',
  NULL, NULL, NULL, 0, NULL, NULL, '', '', ''),
 ('k5', 'mac-01', 'darwin', 'macos', '14.5', 'arm64', '0.4.0', now() - interval '30 days',
  now() - interval '5 seconds', now() - interval '1 hour', now() - interval '2 hours', 3, now() - interval '30 minutes', NULL,
  '', 'cccc0000cccc0000cccc0000cccc0000', '');

INSERT INTO host_labels (host_id, key, value)
SELECT h.id, l.key, l.value FROM hosts h JOIN (VALUES
  ('alpha-01', 'env', 'prod'), ('alpha-01', 'team', 'web'), ('alpha-02', 'env', 'prod'), ('win-01', 'env', 'lab')
) AS l(host, key, value) ON l.host = h.hostname;

INSERT INTO software (name, version, arch, source, publisher, host_count) VALUES
  ('openssl', '3.0.11-1~deb12u2', 'amd64', 'dpkg', 'Debian', 1),
  ('openssl', '3.0.13-1~deb12u1', 'amd64', 'dpkg', 'Debian', 1),
  ('bash', '5.2.15-2', 'amd64', 'dpkg', 'Debian', 2),
  ('libstdc++6', '12.2.0-14', 'amd64', 'dpkg', 'Debian', 2),
  ('removed-everywhere', '1.0', 'amd64', 'dpkg', '', 0);

INSERT INTO host_software (host_id, software_id)
SELECT h.id, s.id FROM hosts h JOIN software s ON (h.hostname, s.name, s.version) IN (
  ('alpha-01', 'openssl', '3.0.13-1~deb12u1'), ('alpha-02', 'openssl', '3.0.11-1~deb12u2'),
  ('alpha-01', 'bash', '5.2.15-2'), ('alpha-02', 'bash', '5.2.15-2'),
  ('alpha-01', 'libstdc++6', '12.2.0-14'), ('alpha-02', 'libstdc++6', '12.2.0-14'));

INSERT INTO host_changes (host_id, kind, subject, old_value, new_value, details, first_seen, seq)
SELECT h.id, c.kind, c.subject, c.old, c.new, NULL, now() - c.ago, 1 FROM hosts h JOIN (VALUES
  ('alpha-01', 'first_inventory', '', '', '', interval '2 days'),
  ('alpha-01', 'software_upgraded', 'openssl', '3.0.11-1~deb12u2', '3.0.13-1~deb12u1', interval '3 hours'),
  ('alpha-01', 'port_opened', 'tcp/8080', '', '0.0.0.0:8080 python3', interval '1 hour'),
  ('alpha-02', 'port_opened', 'tcp/8080', '', '0.0.0.0:8080 python3', interval '50 minutes'),
  ('win-01', 'hotfix_installed', 'KB5034441', '', '', interval '1 day'),
  ('win-01', 'hotfix_installed', 'KB0000001', '', '', interval '30 days')
) AS c(host, kind, subject, old, new, ago) ON c.host = h.hostname;

INSERT INTO policies (id, body, title, severity, platforms, expr_only, created_at, updated_at, updated_revision) VALUES
  ('ssh-root', '{}', 'SSH root login disabled', 'high', '{linux}', false, now() - interval '10 days', now() - interval '10 days', 1),
  ('no-telnet', '{}', 'No telnet server', 'critical', '{}', true, now() - interval '10 days', now() - interval '10 days', 1),
  ('disk-encryption', '{}', 'Disks encrypted', 'medium', '{}', false, now() - interval '10 days', now() - interval '10 days', 1);

INSERT INTO results_current (host_id, policy_id, status, evidence, error, checked_at, duration_ns, since, policy_revision)
SELECT h.id, r.policy, r.status, r.evidence::json, r.error, now() - interval '1 minute', 1000000, now() - r.since, 1
FROM hosts h JOIN (VALUES
  ('alpha-01', 'ssh-root', 'fail', '[{"check": "check.all[0].file", "passed": false, "detail": "PermitRootLogin yes in /etc/ssh/sshd_config"}, {"check": "check.all[1].file", "passed": true, "detail": "sshd_config found"}]', '', interval '1 hour'),
  ('alpha-01', 'no-telnet', 'fail', '[{"check": "check.none[0].expr", "passed": false, "detail": "telnetd 0.17 is installed (dpkg)"}]', '', interval '1 day'),
  ('alpha-02', 'ssh-root', 'fail', '[{"check": "check.all[0].file", "passed": false, "detail": "PermitRootLogin yes"}]', '', interval '2 hours'),
  ('alpha-02', 'no-telnet', 'error', '[]', 'dpkg-query: command not found', interval '2 hours'),
  ('win-01', 'ssh-root', 'not_applicable', '[]', '', interval '3 days'),
  ('win-01', 'disk-encryption', 'fail', '[{"check": "check.bitlocker", "passed": false, "detail": "C: not encrypted"}]', '', interval '3 days'),
  ('mac-01', 'disk-encryption', 'fail', '{"not": "an array"}', '', interval '4 days'),
  ('mac-01', 'no-telnet', 'pass', '[]', '', interval '4 days')
) AS r(host, policy, status, evidence, error, since) ON r.host = h.hostname;

INSERT INTO result_transitions (host_id, policy_id, from_status, to_status, at, evidence)
SELECT host_id, policy_id, NULL, status, since, evidence FROM results_current;
INSERT INTO result_transitions (host_id, policy_id, from_status, to_status, at, evidence)
SELECT host_id, policy_id, 'pass', 'fail', since + interval '1 second', evidence FROM results_current
WHERE status = 'fail';

-- alpha-02 by host id, expiring within 30 days; win-01 and alpha-01 by
-- labels; one revoked and one expired that must not count.
INSERT INTO exemptions (policy_id, host_id, labels, label_count, reason, owner, expires_at, created_at, created_by)
SELECT 'ssh-root', id, '{}', 0, 'jump host by design', 'infra', now() + interval '10 days', now() - interval '1 day', 'admin'
FROM hosts WHERE hostname = 'alpha-02';
INSERT INTO exemptions (policy_id, host_id, labels, label_count, reason, owner, expires_at, created_at, created_by)
VALUES ('disk-encryption', NULL, '{"env": "lab"}', 1, 'lab machines are wiped nightly', 'qa', now() + interval '90 days', now() - interval '1 day', 'admin'),
       ('no-telnet', NULL, '{"env": "prod", "team": "web"}', 2, 'legacy line printer', 'web', now() + interval '60 days', now() - interval '1 day', 'admin'),
       ('disk-encryption', NULL, '{"env": "prod"}', 1, 'expired', 'web', now() - interval '1 day', now() - interval '9 days', 'admin');
INSERT INTO exemptions (policy_id, host_id, labels, label_count, reason, owner, expires_at, created_at, created_by, revoked_at, revoked_by)
SELECT 'disk-encryption', id, '{}', 0, 'revoked', 'mac', now() + interval '5 days', now() - interval '1 day', 'admin', now(), 'admin'
FROM hosts WHERE hostname = 'mac-01';
INSERT INTO exemption_labels (exemption_id, key, value)
SELECT e.id, l.key, l.value FROM exemptions e, json_each_text(e.labels) AS l(key, value) WHERE e.host_id IS NULL;

INSERT INTO alerts (rule, host_id, subject, severity, state, labels, annotations, started_at, acked_at, acked_by, resolved_at, muted, notified)
SELECT a.rule, h.id, a.subject, a.severity, a.state, '{}', a.annotations::json, now() - a.ago,
       CASE WHEN a.state = 'acknowledged' THEN now() ELSE NULL END, a.acked_by,
       CASE WHEN a.state = 'resolved' THEN now() ELSE NULL END, a.muted, true
FROM hosts h JOIN (VALUES
  ('policy-failing', 'alpha-01', 'ssh-root', 'high', 'firing', '{"summary": "alpha-01 fails ssh-root"}', interval '1 hour', '', false),
  ('policy-failing', 'mac-01', 'disk-encryption', 'medium', 'acknowledged', '{"summary": "mac-01 fails disk-encryption"}', interval '4 days', 'ops', false),
  ('host-offline', 'win-01', '', 'medium', 'firing', '{}', interval '2 hours', '', true),
  ('policy-failing', 'alpha-02', 'ssh-root', 'high', 'resolved', '{}', interval '3 hours', '', false)
) AS a(rule, host, subject, severity, state, annotations, ago, acked_by, muted) ON a.host = h.hostname;

INSERT INTO notifications (alert_id, receiver, event, state, attempts, created_at, event_at, next_attempt_at, sent_at, last_error, last_status)
SELECT a.id, n.receiver, n.event, n.state, n.attempts, now() - n.ago, now() - n.ago, now() + interval '1 minute',
       CASE WHEN n.state = 'sent' THEN now() ELSE NULL END, n.last_error, n.last_status
FROM alerts a JOIN hosts h ON h.id = a.host_id JOIN (VALUES
  ('alpha-01', 'webhook', 'trigger', 'sent', 1, interval '1 hour', '', 200),
  ('alpha-01', 'oncall', 'trigger', 'dead', 1, interval '1 hour', 'HTTP 400: invalid routing key', 400),
  ('mac-01', 'webhook', 'acknowledge', 'pending', 2, interval '10 minutes', 'context deadline exceeded', 0)
) AS n(host, receiver, event, state, attempts, ago, last_error, last_status) ON n.host = h.hostname
WHERE a.state <> 'resolved';

INSERT INTO silences (matchers, comment, created_by, created_at, starts_at, ends_at) VALUES
  ('[{"name": "rule", "op": "=", "value": "host-offline"}]', 'lab rebuild', 'admin', now() - interval '1 hour', now() - interval '1 hour', now() + interval '1 hour'),
  ('[{"name": "rule", "op": "=", "value": "policy-failing"}]', 'over', 'admin', now() - interval '3 days', now() - interval '3 days', now() - interval '2 days');

INSERT INTO audit_log (at, actor, action, subject, detail) VALUES
  (now() - interval '10 days', 'admin', 'policy_applied', '', '{"added": ["ssh-root", "no-telnet", "disk-encryption"], "revision": 1, "updated": []}'),
  (now() - interval '1 day', 'admin', 'exemption_added', '1', '{}'),
  (now() - interval '1 hour', 'admin', 'silence_added', '1', '{}');

INSERT INTO api_tokens (name, hash) VALUES ('admin', 'secret-hash');
`
