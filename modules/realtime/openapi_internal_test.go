package realtime

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// docs/openapi.yaml documents every channel exactly as schemas defines it.
func TestOpenAPIDocumentsEveryChannel(t *testing.T) {
	raw, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string `yaml:"required"`
				Properties map[string]struct {
					Enum []string `yaml:"enum"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, ch := range Channels {
		sc := schemas[ch]
		got, ok := doc.Components.Schemas["Event_"+ch]
		if !ok {
			t.Errorf("no schema Event_%s", ch)
			continue
		}
		if !slices.Equal(got.Properties["event_type"].Enum, sc.eventTypes) {
			t.Errorf("%s: event_type enum %v, want %v", ch, got.Properties["event_type"].Enum, sc.eventTypes)
		}
		want := []string{"event_type"}
		for _, f := range sc.fields {
			if _, ok := got.Properties[f.name]; !ok {
				t.Errorf("%s: field %s not documented", ch, f.name)
			}
			if f.required {
				want = append(want, f.name)
			}
			if f.enum != nil && !slices.Equal(got.Properties[f.name].Enum, f.enum) {
				t.Errorf("%s.%s: enum %v, want %v", ch, f.name, got.Properties[f.name].Enum, f.enum)
			}
		}
		slices.Sort(want)
		req := slices.Clone(got.Required)
		slices.Sort(req)
		if !slices.Equal(req, want) {
			t.Errorf("%s: required %v, want %v", ch, req, want)
		}
	}
}
