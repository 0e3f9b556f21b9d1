package jobs_test

import (
	"os"
	"testing"

	"github.com/redifx/redifx/modules/jobs"
	"go.yaml.in/yaml/v3"
)

// docs/openapi.yaml states the bounds of the text fields and timings that the
// validation enforces.
func TestOpenAPIStatesTheValidationBounds(t *testing.T) {
	raw, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type prop struct {
		Minimum   *int64 `yaml:"minimum"`
		Maximum   *int64 `yaml:"maximum"`
		MaxLength *int64 `yaml:"maxLength"`
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]prop `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas
	for _, c := range []struct {
		schema, field string
		got           func(prop) *int64
		want          int64
	}{
		{"CreateJobRequest", "title", func(p prop) *int64 { return p.MaxLength }, jobs.MaxTitleBytes},
		{"CreateJobRequest", "description", func(p prop) *int64 { return p.MaxLength }, jobs.MaxDescriptionBytes},
		{"ScheduleRequest", "name", func(p prop) *int64 { return p.MaxLength }, jobs.MaxTitleBytes},
		{"ScheduleRequest", "interval_seconds", func(p prop) *int64 { return p.Maximum }, 365 * 24 * 3600},
	} {
		p, ok := s[c.schema].Properties[c.field]
		if got := c.got(p); !ok || got == nil || *got != c.want {
			t.Errorf("%s.%s: the document says %v, the code %d", c.schema, c.field, got, c.want)
		}
	}
}
