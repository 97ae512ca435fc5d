package yamltree

import (
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestArenaSlicesEndWithTheirRoom checks that appending past the room a
// slice was given moves it rather than overwriting its neighbour.
func TestArenaSlicesEndWithTheirRoom(t *testing.T) {
	a := GetArena[int]()
	defer a.Release()
	x, y := a.Entries(2), a.Entries(2)
	x = append(x, 1, 2)
	y = append(y, 3, 4)
	x = append(x, 5)
	if !slices.Equal(x, []int{1, 2, 5}) || !slices.Equal(y, []int{3, 4}) {
		t.Errorf("entries: x = %v, y = %v; want [1 2 5] and [3 4]", x, y)
	}

	m, n := a.Mapping(1, 2, 2), a.Mapping(3, 4, 2)
	k := &yaml.Node{Value: "k"}
	n.Content = append(n.Content, k, k)
	m.Content = append(m.Content, &yaml.Node{}, &yaml.Node{}, &yaml.Node{})
	if m.Kind != yaml.MappingNode || m.Tag != "!!map" || m.Line != 1 || m.Column != 2 || len(m.Content) != 3 {
		t.Errorf("mapping = %+v", m)
	}
	if n.Line != 3 || n.Column != 4 || n.Content[0] != k || n.Content[1] != k {
		t.Errorf("neighbour mapping overwritten: %+v", n)
	}
}

// TestGetArenaPoolsByEntryType checks that arenas for different entry
// types come from different pools.
func TestGetArenaPoolsByEntryType(t *testing.T) {
	a, b := GetArena[int](), GetArena[string]()
	if a.pool == b.pool {
		t.Error("arenas of int and string entries share a pool")
	}
	a.Release()
	b.Release()
	// Getting one back must not panic on a type assertion, whichever the
	// pool returns.
	GetArena[int]().Release()
	GetArena[string]().Release()
}
