package api

import "github.com/berth-dev/berth/internal/api/apiv1"

// list converts records to a wire list with one of apiv1's From functions.
func list[T, U any](in []T, f func(T) U) apiv1.List[U] {
	out := apiv1.List[U]{Items: make([]U, 0, len(in))}
	for _, v := range in {
		out.Items = append(out.Items, f(v))
	}
	return out
}
