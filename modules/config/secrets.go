package config

import (
	"net/url"
	"reflect"
)

// Secrets is the list of secret values of a loaded configuration (passwords, the
// password inside a URL). The logging module scrubs them from every log line.
type Secrets []string

// SecretsOf collects the non-empty values of target's fields tagged secret.
func SecretsOf(target any) Secrets {
	leaves, _, err := fields(target)
	if err != nil {
		return nil
	}
	var out Secrets
	for _, l := range leaves {
		if l.secret == "" || l.value.Kind() != reflect.String || l.value.String() == "" {
			continue
		}
		s := l.value.String()
		if l.secret == "url" {
			u, err := url.Parse(s)
			if err != nil {
				out = append(out, s)
				continue
			}
			if pw, ok := u.User.Password(); ok && pw != "" {
				out = append(out, pw)
				if esc := url.PathEscape(pw); esc != pw {
					out = append(out, esc)
				}
			}
			continue
		}
		out = append(out, s)
	}
	return out
}
