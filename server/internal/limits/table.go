package limits

import (
	"container/list"
	"time"
)

// table is a map with a bounded number of entries. Entries not touched
// for idle are dropped; when the table is full, the entry touched longest
// ago makes room for a new one. A flood of distinct keys (addresses,
// garbage credentials) therefore costs at most max entries of memory.
// It is not safe for concurrent use; its owner locks.
type table[V any] struct {
	max  int
	idle time.Duration
	// evicted, when set, sees each entry as it is dropped.
	evicted func(key string, v *V)

	m map[string]*list.Element
	l list.List // of *item[V]; front: touched most recently
}

type item[V any] struct {
	key  string
	seen time.Time
	v    V
}

func newTable[V any](max int, idle time.Duration, evicted func(string, *V)) *table[V] {
	return &table[V]{max: max, idle: idle, evicted: evicted, m: make(map[string]*list.Element)}
}

// get returns key's entry, creating it (zero) when absent, and marks it
// touched at now.
func (t *table[V]) get(key string, now time.Time) *V {
	if e, ok := t.m[key]; ok {
		// Touched first, so that the sweep keeps it.
		it := e.Value.(*item[V])
		if now.After(it.seen) {
			it.seen = now
		}
		t.l.MoveToFront(e)
		t.sweep(now)
		return &it.v
	}
	t.sweep(now)
	for t.l.Len() >= t.max {
		t.drop(t.l.Back())
	}
	it := &item[V]{key: key, seen: now}
	t.m[key] = t.l.PushFront(it)
	return &it.v
}

// peek returns key's entry without creating or touching it.
func (t *table[V]) peek(key string, now time.Time) (*V, bool) {
	t.sweep(now)
	e, ok := t.m[key]
	if !ok {
		return nil, false
	}
	return &e.Value.(*item[V]).v, true
}

// sweep drops the entries idle since before now-idle. Entries are in
// order of last touch, so it stops at the first one still in use.
func (t *table[V]) sweep(now time.Time) {
	for e := t.l.Back(); e != nil; e = t.l.Back() {
		if now.Sub(e.Value.(*item[V]).seen) < t.idle {
			return
		}
		t.drop(e)
	}
}

func (t *table[V]) drop(e *list.Element) {
	it := t.l.Remove(e).(*item[V])
	delete(t.m, it.key)
	if t.evicted != nil {
		t.evicted(it.key, &it.v)
	}
}

func (t *table[V]) len() int { return t.l.Len() }

// each calls f for every entry, most recently touched first.
func (t *table[V]) each(f func(key string, v *V)) {
	for e := t.l.Front(); e != nil; e = e.Next() {
		it := e.Value.(*item[V])
		f(it.key, &it.v)
	}
}
