package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// leaf is one settable configuration key.
type leaf struct {
	key    string
	value  reflect.Value
	secret string // "", "true" or "url", from the secret struct tag
}

// section is a struct-typed value at some key path (the root has path "").
type section struct {
	key   string
	value reflect.Value
}

// walk visits the leaves and sections of the struct v (addressable), in
// declaration order. A field's key comes from its koanf tag; fields tagged "-",
// untagged or unexported are not configuration.
func walk(v reflect.Value, prefix string, leaves *[]leaf, sections *[]section) {
	*sections = append(*sections, section{key: prefix, value: v})
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("koanf")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		key := join(prefix, name)
		fv := v.Field(i)
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			walk(fv, key, leaves, sections)
			continue
		}
		*leaves = append(*leaves, leaf{key: key, value: fv, secret: sf.Tag.Get("secret")})
	}
}

func fields(target any) ([]leaf, []section, error) {
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, nil, fmt.Errorf("config: target must be a pointer to a struct, got %T", target)
	}
	var leaves []leaf
	var sections []section
	walk(v.Elem(), "", &leaves, &sections)
	return leaves, sections, nil
}

// EnvName is the environment variable that sets key: "redis.tls.ca_file" is
// REDIS__TLS__CA_FILE.
func EnvName(key string) string {
	return strings.ToUpper(strings.ReplaceAll(key, ".", "__"))
}

// assign converts raw (from YAML or, as a string, from the environment) to the
// type of dst and stores it. The error says what was expected, never the value of
// a secret.
func assign(dst reflect.Value, raw any, secret bool) error {
	shown := func() string {
		if secret {
			return "a value"
		}
		return fmt.Sprintf("%q", fmt.Sprint(raw))
	}
	if dst.Type() == durationType {
		d, err := toDuration(raw)
		if err != nil {
			return fmt.Errorf("expected a duration such as 5s, 250ms or a number of seconds, got %s", shown())
		}
		dst.SetInt(int64(d))
		return nil
	}
	switch dst.Kind() {
	case reflect.String:
		switch r := raw.(type) {
		case string:
			dst.SetString(r)
		case int, int64, uint64, float64, bool:
			dst.SetString(fmt.Sprint(r))
		default:
			return fmt.Errorf("expected a string, got %s", kindOf(raw))
		}
	case reflect.Bool:
		switch r := raw.(type) {
		case bool:
			dst.SetBool(r)
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(r))
			if err != nil {
				return fmt.Errorf("expected true or false, got %s", shown())
			}
			dst.SetBool(b)
		default:
			return fmt.Errorf("expected true or false, got %s", kindOf(raw))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := toInt(raw)
		if !ok || dst.OverflowInt(n) {
			return fmt.Errorf("expected an integer, got %s", shown())
		}
		dst.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := toInt(raw)
		if !ok || n < 0 || dst.OverflowUint(uint64(n)) {
			return fmt.Errorf("expected a non-negative integer, got %s", shown())
		}
		dst.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		f, ok := toFloat(raw)
		if !ok {
			return fmt.Errorf("expected a number, got %s", shown())
		}
		dst.SetFloat(f)
	case reflect.Slice:
		if dst.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", dst.Type())
		}
		list, err := toStrings(raw)
		if err != nil {
			return err
		}
		out := reflect.MakeSlice(dst.Type(), len(list), len(list))
		for i, s := range list {
			out.Index(i).SetString(s)
		}
		dst.Set(out)
	default:
		return fmt.Errorf("unsupported type %s", dst.Type())
	}
	return nil
}

func kindOf(raw any) string {
	switch raw.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", raw)
}

func toInt(raw any) (int64, bool) {
	switch r := raw.(type) {
	case int:
		return int64(r), true
	case int64:
		return r, true
	case uint64:
		if r > math.MaxInt64 {
			return 0, false
		}
		return int64(r), true
	case float64:
		if r != math.Trunc(r) || math.Abs(r) > math.MaxInt64 {
			return 0, false
		}
		return int64(r), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(r), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func toFloat(raw any) (float64, bool) {
	switch r := raw.(type) {
	case int:
		return float64(r), true
	case int64:
		return float64(r), true
	case uint64:
		return float64(r), true
	case float64:
		return r, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		return f, err == nil
	}
	return 0, false
}

// toDuration accepts Go duration syntax or a plain number of seconds.
func toDuration(raw any) (time.Duration, error) {
	if s, ok := raw.(string); ok {
		s = strings.TrimSpace(s)
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
	}
	secs, ok := toFloat(raw)
	if !ok || math.IsNaN(secs) || math.Abs(secs) > float64(math.MaxInt64/int64(time.Second)) {
		return 0, fmt.Errorf("not a duration")
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// toStrings accepts a YAML list of scalars or a comma-separated string.
func toStrings(raw any) ([]string, error) {
	switch r := raw.(type) {
	case string:
		var out []string
		for _, part := range strings.Split(r, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	case []any:
		out := make([]string, 0, len(r))
		for _, item := range r {
			switch item.(type) {
			case map[string]any, []any, nil:
				return nil, fmt.Errorf("expected a list of strings, got %s in the list", kindOf(item))
			}
			out = append(out, fmt.Sprint(item))
		}
		return out, nil
	case []string:
		return r, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("expected a list of strings, got %s", kindOf(raw))
}
