package config

import (
	"bytes"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Redacted is what a secret is shown as.
const Redacted = "***"

// RedactURL returns raw with the password of its user info replaced by "***". A
// string that does not parse as a URL is returned as "***" entirely, since it may
// hold anything.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Redacted
	}
	if u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Redacted)
	} else if u.User.Username() != "" {
		// redis://secret@host is a user without a password to the client
		// library, but people write it meaning a password: hide it too.
		u.User = url.User(Redacted)
	}
	return strings.Replace(u.String(), url.QueryEscape(Redacted), Redacted, 1)
}

// MarshalRedacted renders target (a pointer to a loaded config struct) as YAML in
// declaration order, with every secret replaced: fields tagged secret:"true" show
// "***" when set, fields tagged secret:"url" show the URL without its password.
// The output loads back with Load (with secrets to be filled in again).
func MarshalRedacted(target any) ([]byte, error) {
	v := reflect.ValueOf(target)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: target must be a pointer to a struct, got %T", target)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node(v.Elem())); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func node(v reflect.Value) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("koanf")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		fv := v.Field(i)
		var val *yaml.Node
		switch {
		case sf.Type.Kind() == reflect.Struct && sf.Type != durationType:
			val = node(fv)
		case sf.Tag.Get("secret") == "url":
			val = scalar(RedactURL(fv.String()))
		case sf.Tag.Get("secret") != "":
			shown := ""
			if !fv.IsZero() {
				shown = Redacted
			}
			val = scalar(shown)
		case sf.Type == durationType:
			val = scalar(time.Duration(fv.Int()).String())
		case fv.Kind() == reflect.Slice:
			val = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for j := range fv.Len() {
				val.Content = append(val.Content, scalar(fmt.Sprint(fv.Index(j).Interface())))
			}
		default:
			val = &yaml.Node{}
			if err := val.Encode(fv.Interface()); err != nil {
				val = scalar(fmt.Sprint(fv.Interface()))
			}
		}
		m.Content = append(m.Content, scalar(name), val)
	}
	return m
}

func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
