package redis

import (
	"errors"
	"sort"

	"github.com/redifx/redifx/modules/config"
)

func sortProblems(errs []error) {
	key := func(e error) string {
		var fe *config.FieldError
		if errors.As(e, &fe) {
			return fe.Key
		}
		return e.Error()
	}
	sort.SliceStable(errs, func(i, j int) bool { return key(errs[i]) < key(errs[j]) })
}
