package health

import "go.uber.org/fx"

// ModuleName is the name of this package in Fx's logs.
const ModuleName = "health"

// Group is the Fx value group that collects every Check.
const Group = "health.checks"

// AsCheck annotates a constructor returning a Check (or a type implementing it)
// so that its result joins the health-check group.
func AsCheck(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(Check)), fx.ResultTags(`group:"`+Group+`"`))
}

// Checks is a parameter struct that receives every contributed Check.
type Checks struct {
	fx.In

	All []Check `group:"health.checks"`
}
