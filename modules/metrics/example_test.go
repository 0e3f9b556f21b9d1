package metrics_test

import (
	"context"
	"fmt"

	"github.com/redifx/redifx/modules/metrics"
	"go.uber.org/fx"
)

// Another app adds its own dashboard section without touching the module.
func ExampleAsSource() {
	opt := fx.Options(
		metrics.Module,
		metrics.AsSource("billing", func(ctx context.Context, tenant string) (any, error) {
			return map[string]any{"open_invoices": 3}, nil
		}),
	)
	fmt.Println(opt != nil)
	// Output: true
}
