package httpserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/httpserver"
)

func ExampleNew() {
	cfg := httpserver.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	s := httpserver.New(httpserver.Options{
		Config: cfg,
		Routes: []httpserver.Route{httpserver.RouteFunc(func(r gin.IRouter) {
			r.GET("/hello", func(c *gin.Context) { c.String(http.StatusOK, "hello") })
		})},
	})
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	defer func() { _ = s.Stop(context.Background()) }()

	resp, err := http.Get("http://" + s.Addr().String() + "/hello")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello
}
