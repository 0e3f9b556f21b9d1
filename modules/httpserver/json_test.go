package httpserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/httpserver"
)

// Every malformed or ambiguous JSON body is a 4xx with a JSON error (naming
// the field where there is one), never accepted and never a 5xx.
func TestBindJSONRefusesWhatIsNotExactlyOneObject(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 1 << 16
	f := start(t, cfg, typedEchoRoutes())
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	deepArray := `{"tags":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		code, field             string
	}{
		{"trailing garbage", "application/json", `{"title":"a"} xx`, 400, "invalid_body", ""},
		{"two objects", "application/json", `{"title":"a"}{"title":"b"}`, 400, "invalid_body", ""},
		{"object then number", "application/json", `{"title":"a"} 1`, 400, "invalid_body", ""},
		{"duplicate key", "application/json", `{"title":"a","title":"b"}`, 400, "invalid_body", "title"},
		{"nested duplicate key", "application/json", `{"meta":{"k":1,"k":2}}`, 400, "invalid_body", "meta.k"},
		{"empty body", "application/json", ``, 400, "invalid_body", ""},
		{"whitespace body", "application/json", " \n\t ", 400, "invalid_body", ""},
		{"null", "application/json", `null`, 400, "invalid_body", ""},
		{"array", "application/json", `[{"title":"a"}]`, 400, "invalid_body", ""},
		{"string", "application/json", `"title"`, 400, "invalid_body", ""},
		{"number", "application/json", `42`, 400, "invalid_body", ""},
		{"truncated", "application/json", `{"title":"a"`, 400, "invalid_body", ""},
		{"not json", "application/json", `{not json}`, 400, "invalid_body", ""},
		{"deeply nested object", "application/json", `{"meta":` + deep + `}`, 400, "invalid_body", "meta"},
		{"deeply nested array", "application/json", deepArray, 400, "invalid_body", "tags"},
		{"integer beyond int64", "application/json", `{"count":9223372036854775808}`, 400, "invalid_body", "count"},
		{"integer as float", "application/json", `{"count":1e30}`, 400, "invalid_body", "count"},
		{"fraction for an integer", "application/json", `{"count":1.5}`, 400, "invalid_body", "count"},
		{"string for an integer", "application/json", `{"count":"3"}`, 400, "invalid_body", "count"},
		{"wrong type in nested", "application/json", `{"meta":{"n":"x"}}`, 400, "invalid_body", "meta.n"},
		{"form content type", "application/x-www-form-urlencoded", `title=a`, 415, "unsupported_media_type", ""},
		{"text content type", "text/plain", `{"title":"a"}`, 415, "unsupported_media_type", ""},
		{"broken content type", "application/", `{"title":"a"}`, 415, "unsupported_media_type", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postJSON(t, f.base+"/typed", tc.contentType, tc.body)
			if status != tc.status || body["error"] != tc.code {
				t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if got, _ := body["field"].(string); got != tc.field {
				t.Errorf("field %q, want %q (%v)", got, tc.field, body["message"])
			}
			if msg, _ := body["message"].(string); msg == "" {
				t.Error("no message")
			}
		})
	}
	// What is accepted: one object, surrounded by whitespace, with or without
	// a JSON Content-Type, numbers at the edge of their range.
	for _, tc := range []struct{ name, contentType, body string }{
		{"plain", "application/json", `{"title":"a","count":9223372036854775807}`},
		{"whitespace around", "application/json", " \n{\"title\":\"a\"}\n "},
		{"charset", "application/json; charset=utf-8", `{"title":"a"}`},
		{"vendor type", "application/merge-patch+json", `{"title":"a"}`},
		{"no content type", "", `{"title":"a"}`},
		{"nested up to the limit", "application/json", `{"meta":{"n":1}}`},
	} {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			if status, body := postJSON(t, f.base+"/typed", tc.contentType, tc.body); status != 200 || body["title"] != "a" && tc.name != "nested up to the limit" {
				t.Errorf("%d %v", status, body)
			}
		})
	}
}

type typed struct {
	Title string `json:"title"`
	Count int64  `json:"count"`
	Meta  *struct {
		N int `json:"n"`
	} `json:"meta"`
	Tags []any `json:"tags"`
}

func typedEchoRoutes() []httpserver.Route {
	return []httpserver.Route{httpserver.RouteFunc(func(r gin.IRouter) {
		r.POST("/typed", func(c *gin.Context) {
			var v typed
			if httpserver.BindJSON(c, &v) {
				c.JSON(http.StatusOK, v)
			}
		})
	})}
}

func postJSON(t *testing.T, url, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func ExampleCheckJSONObject() {
	for _, body := range []string{`{"a":1}`, `{"a":1} {"a":2}`, `{"a":{"b":1,"b":2}}`, `null`} {
		field, err := httpserver.CheckJSONObject([]byte(body))
		fmt.Printf("%-22s field=%q err=%v\n", body, field, err)
	}
	// Output:
	// {"a":1}                field="" err=<nil>
	// {"a":1} {"a":2}        field="" err=unexpected content after the JSON object (only one object is allowed)
	// {"a":{"b":1,"b":2}}    field="a.b" err=key "a.b" appears more than once
	// null                   field="" err=expected a JSON object, got null
}
