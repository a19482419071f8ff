package encoding

import (
	"fmt"

	"github.com/netshare/netshare/abi"
)

// take returns a column holding c's rows at idx, in that order (string
// columns share the dictionary).
func take(c *abi.Column, idx []int32) abi.Column {
	return (&abi.Batch{Columns: []abi.Column{*c}}).Take(idx).Columns[0]
}

// columnOf returns the named column of a plugin's decoded batch, checking
// its length.
func columnOf(b *abi.Batch, name string, rows int) (*abi.Column, error) {
	c := b.Column(name)
	if c == nil {
		return nil, fmt.Errorf("decoded batch has no column %q", name)
	}
	if c.Len() != rows {
		return nil, fmt.Errorf("decoded column %q has %d rows, want %d", name, c.Len(), rows)
	}
	return c, nil
}
