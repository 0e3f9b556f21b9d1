package httpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// MaxJSONDepth is how deeply objects and arrays may nest in a request body;
// no request of this service needs more, and a bound keeps hostile input cheap.
const MaxJSONDepth = 64

// BindJSON decodes the request body, which must be exactly one JSON object,
// into v. On failure it answers and returns false:
//
//   - 408 when the body did not arrive within http.read_timeout;
//   - 413 when the body is over http.max_body_bytes;
//   - 415 when Content-Type names a type other than JSON (a missing
//     Content-Type is taken as JSON) or a charset other than UTF-8, or the
//     body has a Content-Encoding (such as gzip) other than identity;
//   - 400 otherwise: an empty body, bytes that are not UTF-8, null or
//     another non-object, invalid JSON,
//     content after the object (such as a second object), a key given twice,
//     nesting deeper than MaxJSONDepth, or a value of the wrong type for its
//     field (a number beyond the field's range included). The answer names the
//     field where there is one.
func BindJSON(c *gin.Context, v any) bool {
	if !JSONContentType(c) {
		return false
	}
	if c.Request.Body == nil {
		FieldError(c, http.StatusBadRequest, "invalid_body", "", "request body is empty; expected a JSON object")
		return false
	}
	data, err := io.ReadAll(c.Request.Body)
	if err != nil {
		BodyReadError(c, err)
		return false
	}
	if field, err := CheckJSONObject(data); err != nil {
		FieldError(c, http.StatusBadRequest, "invalid_body", field, "request body is not a valid JSON object: "+err.Error())
		return false
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			FieldError(c, http.StatusBadRequest, "invalid_body", te.Field,
				fmt.Sprintf("field %q: expected %s, got JSON %s", te.Field, kindName(te.Type.Kind().String()), te.Value))
			return false
		}
		FieldError(c, http.StatusBadRequest, "invalid_body", "", "request body is not valid for this request: "+err.Error())
		return false
	}
	return true
}

// JSONContentType reports whether the request's Content-Type is JSON
// (application/json or application/*+json) or absent; otherwise it answers 415
// and returns false. For handlers that read a body without BindJSON.
func JSONContentType(c *gin.Context) bool {
	if ct := c.GetHeader("Content-Type"); ct != "" && !isJSONType(ct) {
		Error(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"request body must be JSON (Content-Type: application/json), got "+strconv.Quote(ct))
		return false
	}
	if cs := charset(c.GetHeader("Content-Type")); cs != "" && cs != "utf-8" && cs != "utf8" {
		Error(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"request body must be JSON in UTF-8, got charset "+strconv.Quote(cs))
		return false
	}
	// A compressed body would be read as if it were plain: refuse it
	// rather than answer about garbage (or, worse, accept a body whose bytes
	// happen to parse).
	for _, ce := range c.Request.Header.Values("Content-Encoding") {
		for _, enc := range strings.Split(ce, ",") {
			if enc = strings.ToLower(strings.TrimSpace(enc)); enc != "" && enc != "identity" {
				Error(c, http.StatusUnsupportedMediaType, "unsupported_media_type",
					"request bodies are not decompressed: send the body without Content-Encoding, got "+strconv.Quote(enc))
				return false
			}
		}
	}
	return true
}

// charset returns the lower-cased charset parameter of a Content-Type, or "".
func charset(ct string) string {
	if ct == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(params["charset"]))
}

// BodyReadError answers a failure to read the request body: 413 beyond the
// size limit, 408 when it did not arrive within http.read_timeout, 400 when
// the client broke it off. For handlers that read a body without BindJSON.
func BodyReadError(c *gin.Context, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		Error(c, http.StatusRequestEntityTooLarge, "body_too_large",
			"request body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.Header("Connection", "close")
		Error(c, http.StatusRequestTimeout, "request_timeout", "the request body did not arrive within the read timeout")
	default:
		Error(c, http.StatusBadRequest, "invalid_body", "the request body could not be read: "+err.Error())
	}
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func kindName(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer in range"
	case "float32", "float64":
		return "a number"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a " + k
}

// CheckJSONObject checks that data is one JSON object and nothing else (no
// second value, no trailing content), with no key twice in any object and no
// nesting beyond MaxJSONDepth: the rules of BindJSON, for handlers that read
// a body themselves. On failure it returns the dotted path of the offending
// member, when there is one, for the answer's "field".
func CheckJSONObject(data []byte) (field string, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return "", errors.New("the body is empty; expected a JSON object")
	}
	if !utf8.Valid(data) {
		// encoding/json would silently replace the bad bytes with U+FFFD
		// and store something the client never sent.
		return "", errors.New("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return "", syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return "", fmt.Errorf("expected a JSON object, got %s", describeToken(tok))
	}
	if field, err := checkObject(dec, "", 1); err != nil {
		return field, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", errors.New("unexpected content after the JSON object (only one object is allowed)")
	}
	return "", nil
}

// checkObject reads the members of an object whose '{' has been read.
func checkObject(dec *json.Decoder, path string, depth int) (string, error) {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return path, syntaxError(err)
		}
		key, _ := tok.(string)
		field := key
		if path != "" {
			field = path + "." + key
		}
		if seen[key] {
			return field, fmt.Errorf("key %q appears more than once", field)
		}
		seen[key] = true
		if f, err := checkValue(dec, field, depth); err != nil {
			return f, err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return path, syntaxError(err)
	}
	return "", nil
}

// checkValue reads one value.
func checkValue(dec *json.Decoder, path string, depth int) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return path, syntaxError(err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return "", nil
	}
	if depth >= MaxJSONDepth {
		top, _, _ := strings.Cut(path, ".")
		top, _, _ = strings.Cut(top, "[")
		return top, fmt.Errorf("field %q is nested deeper than %d levels", top, MaxJSONDepth)
	}
	if d == '{' {
		return checkObject(dec, path, depth+1)
	}
	for i := 0; dec.More(); i++ {
		if f, err := checkValue(dec, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
			return f, err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return path, syntaxError(err)
	}
	return "", nil
}

func syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the JSON ends too early")
	}
	return err
}

func describeToken(tok any) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	default:
		return fmt.Sprintf("%T", t)
	}
}
