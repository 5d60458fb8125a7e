package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

// hostColumns is what every host read selects from hosts (unaliased), in
// scanHost's order.
var hostColumns = `id, hostname, os, platform, os_version, arch, agent_version,
	enrolled_at, last_seen, connected_at, disconnected_at, last_seq,
	hardware_uuid, machine_id, serial, ` + duplicatesColumn

// sameUUID and sameMachineID find the other hosts sharing a host's
// identifier. The literal "<> ”" terms let SQLite use the partial
// indexes, one lookup each.
const (
	sameUUID      = `o.hardware_uuid = hosts.hardware_uuid AND o.hardware_uuid <> '' AND o.id <> hosts.id`
	sameMachineID = `o.machine_id = hosts.machine_id AND o.machine_id <> '' AND o.id <> hosts.id`
)

// duplicatesColumn lists the ids of possible duplicates, comma-separated,
// or NULL.
var duplicatesColumn = fmt.Sprintf(`(SELECT group_concat(id) FROM (
		SELECT o.id FROM hosts o WHERE %s
		UNION SELECT o.id FROM hosts o WHERE %s
		ORDER BY 1 LIMIT %d)) AS duplicates`, sameUUID, sameMachineID, store.MaxDuplicates)

// hasDuplicates keeps hosts with at least one possible duplicate.
const hasDuplicates = `(EXISTS (SELECT 1 FROM hosts o WHERE ` + sameUUID + `)
	OR EXISTS (SELECT 1 FROM hosts o WHERE ` + sameMachineID + `))`

type scanner interface{ Scan(dest ...any) error }

func scanHost(row scanner) (store.Host, error) {
	var (
		h                                     store.Host
		enrolled, seen, connected, disconnect sql.NullInt64
		lastSeq                               int64
		dups                                  sql.NullString
	)
	err := row.Scan(&h.ID, &h.Hostname, &h.OS, &h.Platform, &h.OSVersion, &h.Arch, &h.AgentVersion,
		&enrolled, &seen, &connected, &disconnect, &lastSeq,
		&h.HardwareUUID, &h.MachineID, &h.Serial, &dups)
	if err != nil {
		return store.Host{}, err
	}
	h.EnrolledAt = fromNanos(enrolled)
	h.LastSeen = fromNanos(seen)
	h.ConnectedAt = fromNanos(connected)
	h.DisconnectedAt = fromNanos(disconnect)
	h.LastSeq = uint64(lastSeq)
	if h.PossibleDuplicates, err = parseIDs(dups.String); err != nil {
		return store.Host{}, fmt.Errorf("possible duplicates: %w", err)
	}
	return h, nil
}

// parseIDs reads group_concat's comma-separated ids into ascending order;
// "" is none.
func parseIDs(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	ids := make([]int64, len(parts))
	for i, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	slices.Sort(ids)
	return ids, nil
}

// EnrollHost records a new host. A zero EnrolledAt means now; an
// EnrollSecretID of 0 records no secret.
func (s *Store) EnrollHost(ctx context.Context, h store.NewHost) (int64, error) {
	at := h.EnrolledAt
	if at.IsZero() {
		at = time.Now()
	}
	var secret any
	if h.EnrollSecretID != 0 {
		secret = h.EnrollSecretID
	}
	var id int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO hosts (node_key_hash, hostname, enroll_secret_id, enrolled_at)
			VALUES (?, ?, ?, ?) RETURNING id`,
			h.NodeKeyHash, clean(h.Hostname), secret, nanos(at)).Scan(&id); err != nil {
			return err
		}
		for k, v := range h.Labels {
			if _, err := tx.ExecContext(ctx, `INSERT INTO host_labels (host_id, key, value) VALUES (?, ?, ?)`,
				id, clean(k), clean(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("enroll host: %w", err)
	}
	return id, nil
}

// HostByNodeKey returns the host with this node key hash.
func (s *Store) HostByNodeKey(ctx context.Context, nodeKeyHash string) (store.Host, error) {
	h, err := scanHost(s.r.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM hosts WHERE node_key_hash = ?`, nodeKeyHash))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Host{}, fmt.Errorf("host by node key: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Host{}, fmt.Errorf("host by node key: %w", err)
	}
	return h, nil
}

// GetHost returns one host.
func (s *Store) GetHost(ctx context.Context, id int64) (store.Host, error) {
	h, err := scanHost(s.r.QueryRowContext(ctx, `SELECT `+hostColumns+` FROM hosts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Host{}, fmt.Errorf("get host %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Host{}, fmt.Errorf("get host %d: %w", id, err)
	}
	return h, nil
}

// HostConnected records what the agent said in its hello.
func (s *Store) HostConnected(ctx context.Context, id int64, info store.HelloInfo, at time.Time) error {
	err := s.updateHost(ctx, `UPDATE hosts SET hostname = ?, os = ?, arch = ?, agent_version = ?,
		connected_at = ?, last_seen = ? WHERE id = ?`,
		clean(info.Hostname), clean(info.OS), clean(info.Arch), clean(info.AgentVersion), nanos(at), nanos(at), id)
	if err != nil {
		return fmt.Errorf("host %d connected: %w", id, err)
	}
	return nil
}

// HostDisconnected records when the agent's connection ended.
func (s *Store) HostDisconnected(ctx context.Context, id int64, at time.Time) error {
	if err := s.updateHost(ctx, `UPDATE hosts SET disconnected_at = ? WHERE id = ?`, nanos(at), id); err != nil {
		return fmt.Errorf("host %d disconnected: %w", id, err)
	}
	return nil
}

// updateHost runs a one-row update and reports ErrNotFound if no row matched.
func (s *Store) updateHost(ctx context.Context, query string, args ...any) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// defaultLimit is the page size when a query asks for none.
const defaultLimit = 100

func limitOrDefault(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// ListHosts returns one page of hosts in (hostname, id) order; hostnames
// compare bytewise, as PostgreSQL's "C" collation does.
//
// With p.Duplicates it walks hosts in that order and keeps those with a
// duplicate, two index lookups per host walked.
func (s *Store) ListHosts(ctx context.Context, p store.HostPage) ([]store.Host, error) {
	where, args := []string{"1"}, []any{}
	if p.AfterID > 0 {
		where = append(where, `(hostname, id) > (?, ?)`)
		args = append(args, p.AfterHostname, p.AfterID)
	}
	if p.Duplicates {
		where = append(where, hasDuplicates)
	}
	query := `SELECT ` + hostColumns + ` FROM hosts WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY hostname, id LIMIT ?`
	rows, err := s.r.QueryContext(ctx, query, append(args, limitOrDefault(p.Limit))...)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	defer rows.Close()
	hosts := []store.Host{}
	for rows.Next() {
		h, err := scanHost(rows)
		if err != nil {
			return nil, fmt.Errorf("list hosts: %w", err)
		}
		hosts = append(hosts, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	return hosts, nil
}
