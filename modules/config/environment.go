package config

import "fmt"

// Environment names where the application runs. It selects defaults (fail fast in
// production, degrade elsewhere) and switches on the production validation rules.
type Environment string

// The environments, selected by the ENVIRONMENT variable (key "environment").
const (
	Development Environment = "development"
	Test        Environment = "test"
	Staging     Environment = "staging"
	Production  Environment = "production"
)

// Environments lists every valid Environment.
var Environments = []Environment{Development, Test, Staging, Production}

// IsProduction reports whether e is Production.
func (e Environment) IsProduction() bool { return e == Production }

// Validate reports an error when e is not one of [Environments].
func (e Environment) Validate() error {
	for _, v := range Environments {
		if e == v {
			return nil
		}
	}
	return fmt.Errorf("must be one of development, test, staging, production; got %q", string(e))
}
