package health_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redifx/redifx/modules/health"
)

func ExampleRun() {
	db := health.NewCheck("db", true, func(context.Context) health.Result {
		return health.Result{Status: health.StatusHealthy, Message: "ok"}
	})
	cache := health.NewCheck("cache", false, func(context.Context) health.Result {
		return health.Result{Status: health.StatusDegraded, Message: "unreachable"}
	})
	rep := health.Run(context.Background(), []health.Check{db, cache}, time.Second)
	fmt.Println(rep.Ready, rep.Services[0].Name, rep.Services[0].Status)
	// Output: true cache degraded
}
