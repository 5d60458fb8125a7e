package collect

import "testing"

func TestCoarseFree(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name              string
		free, total, want uint64
	}{
		{"1 % of 100 GiB steps", 37*gib + 123456, 100 * gib, 37 * gib},
		{"exact step kept", 5 * gib, 100 * gib, 5 * gib},
		{"small file system steps 64 MiB", 100<<20 + 5, 1 * gib, 64 << 20},
		{"less than one step", 10 << 20, 1 * gib, 0},
		{"empty", 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := coarseFree(tc.free, tc.total); got != tc.want {
				t.Errorf("coarseFree(%d, %d) = %d, want %d", tc.free, tc.total, got, tc.want)
			}
		})
	}
}
