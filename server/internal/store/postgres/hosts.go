package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/store"
)

// hostColumns is what every host read selects from hosts (unaliased),
// into hostRow.
var hostColumns = hostOwnColumns + `, ` + duplicatesColumn

// hostOwnColumns are a host's columns without its possible duplicates.
const hostOwnColumns = `id, hostname, os, platform, os_version, arch, agent_version,
	enrolled_at, last_seen, connected_at, disconnected_at, last_seq,
	hardware_uuid, machine_id, serial, retired_at, policies_checked_at`

// nodeKeyColumns are what HostsByNodeKeys reads: the duplicates, two index
// ranges and a sort, were most of the time of the read every agent
// connection makes (0.28 against 0.02 ms on PostgreSQL).
const nodeKeyColumns = hostOwnColumns + `, NULL::bigint[] AS possible_duplicates`

// sameUUID and sameMachineID find the other hosts sharing a host's
// identifier; the literal "<> ”" terms match the partial indexes'
// predicates, so each is one index range, already in id order.
const (
	sameUUID      = `o.hardware_uuid = hosts.hardware_uuid AND o.hardware_uuid <> '' AND o.id <> hosts.id`
	sameMachineID = `o.machine_id = hosts.machine_id AND o.machine_id <> '' AND o.id <> hosts.id`
)

// duplicatesColumn is the ids of a host's possible duplicates.
var duplicatesColumn = fmt.Sprintf(`ARRAY(SELECT o.id FROM hosts o WHERE %s
		UNION SELECT o.id FROM hosts o WHERE %s
		ORDER BY 1 LIMIT %d) AS possible_duplicates`, sameUUID, sameMachineID, store.MaxDuplicates)

// hasDuplicates keeps hosts with at least one possible duplicate.
const hasDuplicates = `(EXISTS (SELECT 1 FROM hosts o WHERE ` + sameUUID + `)
	OR EXISTS (SELECT 1 FROM hosts o WHERE ` + sameMachineID + `))`

type hostRow struct {
	ID             int64      `db:"id"`
	Hostname       string     `db:"hostname"`
	OS             string     `db:"os"`
	Platform       string     `db:"platform"`
	OSVersion      string     `db:"os_version"`
	Arch           string     `db:"arch"`
	AgentVersion   string     `db:"agent_version"`
	EnrolledAt     time.Time  `db:"enrolled_at"`
	LastSeen       *time.Time `db:"last_seen"`
	ConnectedAt    *time.Time `db:"connected_at"`
	DisconnectedAt *time.Time `db:"disconnected_at"`
	LastSeq        int64      `db:"last_seq"`
	HardwareUUID   string     `db:"hardware_uuid"`
	MachineID      string     `db:"machine_id"`
	Serial         string     `db:"serial"`
	RetiredAt      *time.Time `db:"retired_at"`
	PolicyChecked  *time.Time `db:"policies_checked_at"`
	Duplicates     []int64    `db:"possible_duplicates"`
}

func (r hostRow) host() store.Host {
	h := store.Host{
		ID: r.ID, Hostname: r.Hostname, OS: r.OS, Platform: r.Platform, OSVersion: r.OSVersion,
		Arch: r.Arch, AgentVersion: r.AgentVersion,
		EnrolledAt:     r.EnrolledAt.UTC(),
		LastSeen:       utc(r.LastSeen),
		ConnectedAt:    utc(r.ConnectedAt),
		DisconnectedAt: utc(r.DisconnectedAt),
		LastSeq:        uint64(r.LastSeq),
		HardwareUUID:   r.HardwareUUID,
		MachineID:      r.MachineID,
		Serial:         r.Serial,
		RetiredAt:      utc(r.RetiredAt),

		PoliciesCheckedAt: utc(r.PolicyChecked),
	}
	if len(r.Duplicates) > 0 {
		h.PossibleDuplicates = r.Duplicates
	}
	return h
}

// EnrollHost records a new host. A zero EnrolledAt means now; an
// EnrollSecretID of 0 records no secret.
func (s *Store) EnrollHost(ctx context.Context, h store.NewHost) (int64, error) {
	at := h.EnrolledAt
	if at.IsZero() {
		at = time.Now()
	}
	var secret *int64
	if h.EnrollSecretID != 0 {
		secret = &h.EnrollSecretID
	}
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if secret != nil {
			if err := takeSecretUse(ctx, tx, *secret); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(ctx, `INSERT INTO hosts (node_key_hash, hostname, enroll_secret_id, enrolled_at)
			VALUES ($1, $2, $3, $4) RETURNING id`, h.NodeKeyHash, clean(h.Hostname), secret, at).Scan(&id); err != nil {
			return err
		}
		if len(h.Labels) == 0 {
			return nil
		}
		labels := cleanLabels(h.Labels)
		keys := slices.Sorted(maps.Keys(labels))
		values := make([]string, len(keys))
		for i, k := range keys {
			values[i] = labels[k]
		}
		_, err := tx.Exec(ctx, `INSERT INTO host_labels (host_id, key, value)
			SELECT $1, u.key, u.value FROM unnest($2::text[], $3::text[]) AS u(key, value)`, id, keys, values)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("enroll host: %w", err)
	}
	return id, nil
}

// takeSecretUse checks, in an enrollment's transaction, that the enroll
// secret is still live and below its use limit. Only a limited secret's
// row is locked (its uses are counted from hosts, so enrollments with it
// queue); unlimited secrets, the common case, take no lock, so an enroll
// storm does not serialize on one row.
func takeSecretUse(ctx context.Context, tx pgx.Tx, id int64) error {
	var maxUses *int64
	var live bool
	err := tx.QueryRow(ctx, `SELECT max_uses, revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
		FROM enroll_secrets WHERE id = $1`, id).Scan(&maxUses, &live)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !live {
		return fmt.Errorf("enroll secret %d revoked or expired: %w", id, store.ErrNotFound)
	}
	if err != nil || maxUses == nil {
		return err
	}
	// Under READ COMMITTED the count, a statement after the lock, sees
	// the hosts of every enrollment that held the lock before.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM enroll_secrets WHERE id = $1 FOR UPDATE`, id); err != nil {
		return err
	}
	var used int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM hosts WHERE enroll_secret_id = $1`, id).Scan(&used); err != nil {
		return err
	}
	if used >= *maxUses {
		return fmt.Errorf("enroll secret %d used %d of %d times: %w", id, used, *maxUses, store.ErrNotFound)
	}
	return nil
}

func (s *Store) oneHost(ctx context.Context, where string, arg any) (store.Host, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+hostColumns+` FROM hosts WHERE `+where, arg)
	return oneHostRow(rows)
}

// oneHostRow reads the one host of rows; ErrNotFound when there is none.
func oneHostRow(rows pgx.Rows) (store.Host, error) {
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[hostRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Host{}, store.ErrNotFound
	}
	if err != nil {
		return store.Host{}, err
	}
	return r.host(), nil
}

// HostsByNodeKeys returns the hosts of the node key hashes that have
// one, retired hosts included, in one statement.
func (s *Store) HostsByNodeKeys(ctx context.Context, nodeKeyHashes []string) (map[string]store.Host, error) {
	type keyedRow struct {
		NodeKeyHash string `db:"node_key_hash"`
		hostRow
	}
	rows, _ := s.pool.Query(ctx, `SELECT node_key_hash, `+nodeKeyColumns+` FROM hosts WHERE node_key_hash = ANY($1::text[])`, nodeKeyHashes)
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[keyedRow])
	if err != nil {
		return nil, fmt.Errorf("hosts by node keys: %w", err)
	}
	out := make(map[string]store.Host, len(found))
	for _, r := range found {
		out[r.NodeKeyHash] = r.host()
	}
	return out, nil
}

// GetHost returns one host.
func (s *Store) GetHost(ctx context.Context, id int64) (store.Host, error) {
	h, err := s.oneHost(ctx, `id = $1`, id)
	if err != nil {
		return store.Host{}, fmt.Errorf("get host %d: %w", id, err)
	}
	return h, nil
}

// HostConnected records what the agent said in its hello.
func (s *Store) HostConnected(ctx context.Context, id int64, info store.HelloInfo, at time.Time) error {
	missing, err := s.HostsConnected(ctx, []store.Connect{{HostID: id, Info: info, At: at}})
	if err == nil && missing[0] {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("host %d connected: %w", id, err)
	}
	return nil
}

// HostsConnected records the hellos of cs in one statement, which locks
// the rows in id order as ingest and HostsDisconnected do; the ids it
// returns tell the missing hosts.
func (s *Store) HostsConnected(ctx context.Context, cs []store.Connect) ([]bool, error) {
	if len(cs) == 0 {
		return []bool{}, nil
	}
	latest := store.LatestConnects(cs)
	n := len(latest)
	ids, ats := make([]int64, n), make([]*time.Time, n)
	names, oses, arches, versions := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, c := range latest {
		ids[i], ats[i] = c.HostID, nullTime(c.At)
		names[i], oses[i], arches[i], versions[i] = clean(c.Info.Hostname), clean(c.Info.OS), clean(c.Info.Arch), clean(c.Info.AgentVersion)
	}
	rows, _ := s.pool.Query(ctx, `WITH c AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
				AS c(id, hostname, os, arch, agent_version, at)
		), locked AS (
			SELECT h.id FROM hosts h JOIN c ON c.id = h.id ORDER BY h.id FOR NO KEY UPDATE OF h
		)
		UPDATE hosts h SET hostname = c.hostname, os = c.os, arch = c.arch, agent_version = c.agent_version,
			connected_at = c.at, last_seen = c.at
		FROM c JOIN locked l ON l.id = c.id WHERE h.id = c.id
		RETURNING h.id`, ids, names, oses, arches, versions, ats)
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("%d hosts connected: %w", len(cs), err)
	}
	return store.MissingConnects(cs, found), nil
}

// HostsDisconnected records when agents' connections ended in one
// statement. Several ends of one host fold into the latest first: an
// UPDATE ... FROM that matches a row twice applies one match, no matter
// which.
func (s *Store) HostsDisconnected(ctx context.Context, ds []store.Disconnect) error {
	if len(ds) == 0 {
		return nil
	}
	ids := make([]int64, len(ds))
	ats := make([]time.Time, len(ds))
	for i, d := range ds {
		ids[i], ats[i] = d.HostID, d.At
	}
	// The rows are locked in id order before they are updated, as ingest
	// locks its batch's hosts: an UPDATE joined to the list would lock
	// them in the join's order, and a batch of disconnections (thousands
	// of agents dropping at once) then deadlocks with ingest committing
	// heartbeats of the same hosts.
	_, err := s.pool.Exec(ctx, `WITH u AS (
			SELECT id, max(at) AS at FROM unnest($1::bigint[], $2::timestamptz[]) AS d(id, at) GROUP BY id
		), locked AS (
			SELECT h.id, u.at FROM hosts h JOIN u ON u.id = h.id
			WHERE h.disconnected_at IS NULL OR h.disconnected_at < u.at
			ORDER BY h.id FOR NO KEY UPDATE OF h
		)
		UPDATE hosts h SET disconnected_at = l.at FROM locked l WHERE h.id = l.id`, ids, ats)
	if err != nil {
		return fmt.Errorf("%d hosts disconnected: %w", len(ds), err)
	}
	return nil
}

// ListHosts returns one page of hosts in (hostname, id) order; hostname
// collates "C", so names compare bytewise as in SQLite. With p.Duplicates
// it walks hosts in that order and keeps those with a duplicate, two index
// lookups per host walked.
func (s *Store) ListHosts(ctx context.Context, p store.HostPage) ([]store.Host, error) {
	dups := "true"
	if p.Duplicates {
		dups = hasDuplicates
	}
	if !p.Retired {
		dups += " AND retired_at IS NULL"
	}
	var rows pgx.Rows
	if p.AfterID > 0 {
		rows, _ = s.pool.Query(ctx, fmt.Sprintf(listHostsAfterSQL, dups), p.AfterHostname, p.AfterID, limitOrDefault(p.Limit))
	} else {
		rows, _ = s.pool.Query(ctx, `SELECT `+hostColumns+` FROM hosts WHERE `+dups+` ORDER BY hostname, id LIMIT $1`, limitOrDefault(p.Limit))
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[hostRow])
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	hosts := make([]store.Host, len(rs))
	for i, r := range rs {
		hosts[i] = r.host()
	}
	return hosts, nil
}

// listHostsAfterSQL's row comparison is one range scan of the (hostname,
// id) index starting just after the cursor.
// The %s is a further condition ("true" for none).
var listHostsAfterSQL = `SELECT ` + hostColumns + ` FROM hosts
	WHERE (hostname, id) > ($1, $2) AND %s ORDER BY hostname, id LIMIT $3`

// RetireHost retires a host: see store.HostLifecycle. Deleting its
// current results fires the result count triggers, so compliance counts
// drop it in the same transaction.
func (s *Store) RetireHost(ctx context.Context, id int64, actor string, at time.Time) (store.Host, error) {
	at = nowOr(at)
	var h store.Host
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var retired *time.Time
		var hostname string
		err := tx.QueryRow(ctx, `SELECT retired_at, hostname FROM hosts WHERE id = $1 FOR UPDATE`, id).Scan(&retired, &hostname)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if retired != nil {
			return fmt.Errorf("retired at %s: %w", retired.UTC().Format(time.RFC3339), store.ErrConflict)
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE hosts SET retired_at = $2 WHERE id = $1`, id, at)
		b.Queue(`DELETE FROM results_current WHERE host_id = $1`, id)
		raw, err := json.Marshal(map[string]any{"host_id": id, "hostname": hostname})
		if err != nil {
			return err
		}
		queueAudit(b, at, actor, store.AuditHostRetired, strconv.FormatInt(id, 10), raw)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return store.Host{}, fmt.Errorf("retire host %d: %w", id, err)
	}
	if h, err = s.GetHost(ctx, id); err != nil {
		return store.Host{}, err
	}
	return h, nil
}

// DeleteHost deletes a host; its rows in every other table but
// host_software go with it (ON DELETE CASCADE), and the result count
// triggers see its results go.
// Its software links are removed first, taking the catalog rows'
// host_count down with them (rows locked in id order, as ingest does).
func (s *Store) DeleteHost(ctx context.Context, id int64, actor string, at time.Time) error {
	at = nowOr(at)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// Locking the host first keeps a concurrent ingest from linking
		// it between the two deletes: host_software has no foreign key
		// to clean up after it.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM hosts WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `DELETE FROM host_software WHERE host_id = $1 RETURNING software_id`, id)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			slices.Sort(ids)
			b := &pgx.Batch{}
			b.Queue(`SELECT id FROM software WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
			b.Queue(`UPDATE software SET host_count = host_count - 1 WHERE id = ANY($1)`, ids)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		var hostname string
		err = tx.QueryRow(ctx, `DELETE FROM hosts WHERE id = $1 RETURNING hostname`, id).Scan(&hostname)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return auditTx(ctx, tx, at, actor, store.AuditHostDeleted, strconv.FormatInt(id, 10),
			map[string]any{"host_id": id, "hostname": hostname})
	})
	if err != nil {
		return fmt.Errorf("delete host %d: %w", id, err)
	}
	return nil
}

// RetiredSince lists hosts retired at or after since, from the partial
// index on retired_at.
func (s *Store) RetiredSince(ctx context.Context, since time.Time) ([]int64, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM hosts WHERE retired_at IS NOT NULL AND retired_at >= $1 ORDER BY id`,
		since.UTC())
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("hosts retired since: %w", err)
	}
	return ids, nil
}
