package limits

import (
	"sync"
	"testing"
)

func TestAPIReserveDefaults(t *testing.T) {
	for _, tc := range []struct {
		maxConns, reserve, agents int
	}{
		{1, 0, 1},
		{16, 8, 8},
		{40, 16, 24},
		{192, 16, 176},
		{1600, 16, 1584},
		{18976, 189, 18787}, // a 20,000 open files limit
		{64512, 256, 64256},
		{noLimitConns, 256, noLimitConns - 256},
	} {
		r := APIReserveFor(tc.maxConns)
		if a := MaxAgentsFor(tc.maxConns, r); r != tc.reserve || a != tc.agents {
			t.Errorf("cap %d: reserve %d, agents %d; want %d, %d", tc.maxConns, r, a, tc.reserve, tc.agents)
		}
	}
	// A reserve set at or above the cap still leaves agents one place.
	if a := MaxAgentsFor(10, 10); a != 1 {
		t.Errorf("cap 10, reserve 10: agents %d, want 1", a)
	}
}

func TestShareCapsConcurrentTakes(t *testing.T) {
	s := NewShare(50)
	var wg sync.WaitGroup
	var mu sync.Mutex
	took := 0
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Take() {
				mu.Lock()
				took++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if took != 50 || s.Held() != 50 || s.Max() != 50 {
		t.Fatalf("200 takes of a share of 50: %d succeeded, %d held", took, s.Held())
	}
	if s.Take() {
		t.Fatal("a full share gave a place")
	}
	s.Release()
	if !s.Take() {
		t.Fatal("a released place was not given again")
	}
	var none *Share
	if !none.Take() || none.Held() != 0 {
		t.Error("a nil share refused")
	}
	none.Release()
}
