package collect

import (
	"reflect"
	"testing"
)

func TestTemporaryIPv6(t *testing.T) {
	t.Parallel()
	// Flags 0x01 (IFA_F_TEMPORARY) alone or with others mark privacy
	// addresses; 0x80 (permanent) does not.
	want := map[string]bool{"2001:db8::34a1:c2ff:e3b4:d5e6": true, "2001:db8::aa": true}
	if got := temporaryIPv6("testdata/if_inet6"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := temporaryIPv6("testdata/missing"); got != nil {
		t.Errorf("missing file: got %v, want nil", got)
	}
}
