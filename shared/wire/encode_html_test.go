package wire

import (
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// TestEncodeKeepsSectionBytes: a section whose strings hold <, > or &
// reaches the server byte for byte, so its hash still matches and the
// inventory is accepted.
func TestEncodeKeepsSectionBytes(t *testing.T) {
	data, err := inventory.Canonical(inventory.Software{Packages: []inventory.Package{
		{Name: "at&t-tools", Version: "1.0<2>", Source: "dpkg", Publisher: "<script>alert(1)</script> & co"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := inventory.Hash(data)
	frame, err := Encode(TypeInventory, 1, Inventory{Digest: inventory.Digest(map[string]string{"software": h}),
		Sections: []Section{{Name: inventory.SectionSoftware, Hash: h, Data: data}}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	var inv Inventory
	if err := DecodePayload(env, &inv); err != nil {
		t.Fatal(err)
	}
	if string(inv.Sections[0].Data) != string(data) {
		t.Errorf("section data changed on the wire:\n got %s\nwant %s", inv.Sections[0].Data, data)
	}
	if err := inv.Validate(); err != nil {
		t.Errorf("the server would refuse it: %v", err)
	}
}
