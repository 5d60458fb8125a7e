package ingestplan

import (
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

// Check refuses what no stored state could make valid, so a backend can
// reject a batch before it opens a transaction.
func Check(msgs []store.Message) error {
	for i, m := range msgs {
		switch m.Type {
		case wire.TypeHeartbeat:
		case wire.TypeInventory:
			if m.Inventory == nil {
				return fmt.Errorf("message %d: inventory message without inventory", i)
			}
			for _, sec := range m.Inventory.Sections {
				// json.Valid accepts invalid UTF-8; PostgreSQL text does
				// not, and the hash over the bytes rules out fixing them.
				if !utf8.Valid(sec.Data) {
					return fmt.Errorf("message %d: section %s is not valid UTF-8", i, sec.Name)
				}
			}
		default:
			return fmt.Errorf("message %d: unknown message type %q", i, m.Type)
		}
		// Both databases keep sequence numbers as signed 64-bit integers.
		if m.Seq > math.MaxInt64 {
			return fmt.Errorf("message %d: sequence number %d out of range", i, m.Seq)
		}
	}
	return nil
}
