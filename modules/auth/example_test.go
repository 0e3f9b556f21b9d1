package auth_test

import (
	"fmt"
	"time"

	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
)

func ExampleVerifier_Verify() {
	cfg := auth.Config{JWTSecret: "example-secret-that-is-32-bytes-long!", Issuer: "https://idp.example", Leeway: time.Second}
	tok, _ := auth.Mint(cfg, config.Development, auth.TokenRequest{
		Subject: "alice", TenantID: "acme", Permissions: []string{auth.PermJobsRead}, TTL: time.Hour,
	})
	v, _ := auth.NewVerifier(cfg, config.Development)
	caller, err := v.Verify(tok)
	fmt.Println(err, caller.Subject, caller.TenantID, caller.Has(auth.PermJobsRead), caller.Has(auth.PermJobsWrite))
	// Output: <nil> alice acme true false
}
