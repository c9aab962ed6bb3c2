package graph_test

import "testing"

func TestViewer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var d struct{ Viewer struct{ Login, Role string } }
		e.do(e.admin, `{ viewer { login role } }`, nil).ok().into(&d)
		if d.Viewer.Login != "admin" || d.Viewer.Role != "ADMIN" {
			t.Fatalf("viewer = %+v", d.Viewer)
		}
	})
}
