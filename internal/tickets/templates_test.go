package tickets

import (
	"testing"

	"socdesk/ent/ticket"
)

// TestTemplatesTable checks the table against what it describes: every
// template of the enum has one entry, and every structured field it names is
// one validateDetection knows.
func TestTemplatesTable(t *testing.T) {
	known := structuredGiven(&Detection{})
	all := []ticket.DetectionTemplate{ticket.DetectionTemplateNETWORK, ticket.DetectionTemplateENDPOINT, ticket.DetectionTemplateEMAIL}
	for _, v := range all {
		tpl, ok := TemplateOf(v)
		if !ok {
			t.Fatalf("template %s has no entry", v)
		}
		names := map[string]bool{}
		for _, f := range tpl.Fields {
			if names[f.Name] {
				t.Errorf("%s: field %s twice", v, f.Name)
			}
			names[f.Name] = true
			if _, ok := known[f.Name]; !f.Custom && !ok {
				t.Errorf("%s: %s is no structured field", v, f.Name)
			}
		}
	}
	for _, tpl := range Templates {
		if err := ticket.DetectionTemplateValidator(tpl.Template); err != nil {
			t.Error(err)
		}
	}
	if len(Templates) != len(all) {
		t.Errorf("%d templates for %d enum values", len(Templates), len(all))
	}
}
