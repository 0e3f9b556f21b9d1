package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
)

func TestModuleReloadsJWKSOnSIGHUP(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	path := filepath.Join(t.TempDir(), "jwks.json")
	writeJWKS(t, path, jwk(t, "one", "RS256", &k1.PublicKey))
	var v *auth.Verifier
	app := fxtest.New(t,
		fx.Supply(auth.Config{JWKSFile: path, Issuer: "https://idp.example", Audience: "redifx", Leeway: time.Second}, config.Test, zap.NewNop()),
		auth.Module,
		fx.Populate(&v),
	)
	app.RequireStart()
	defer app.RequireStop()
	newTok := sign(t, jwt.SigningMethodRS256, k2, valid(nil), "two")
	if _, err := v.Verify(newTok); err == nil {
		t.Fatal("key two accepted before rotation")
	}
	writeJWKS(t, path, jwk(t, "two", "RS256", &k2.PublicKey))
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := v.Verify(newTok); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key two not accepted after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
