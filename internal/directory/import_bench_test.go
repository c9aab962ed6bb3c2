package directory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"socdesk/ent/user"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/directory"
	"socdesk/internal/viewer"
)

// BenchmarkImport imports 10,000 employees in 50 departments, then the
// same export with every email changed (creates, then updates).
func BenchmarkImport(b *testing.B) {
	for _, backend := range testdb.Backends {
		b.Run(backend, func(b *testing.B) {
			client := testdb.Open(b, backend, testdb.Options{}).Client
			u := client.User.Create().SetLogin("root").SetDisplayName("root").SetRole(user.RoleADMIN).SaveX(sys())
			ctx := viewer.NewContext(context.Background(), &viewer.Viewer{UserID: u.ID, Login: u.Login, Role: viewer.RoleAdmin})
			svc := &directory.Service{Client: client}
			file := func(round int) string {
				var s strings.Builder
				s.WriteString("number,name,email,department,manager\n")
				for i := range 10_000 {
					fmt.Fprintf(&s, "%d,Person %d,p%d.%d@example.org,Dept %d,%d\n", i, i, i, round, i%50, i%50)
				}
				return s.String()
			}
			for i := 0; b.Loop(); i++ {
				res, err := svc.Import(ctx, strings.NewReader(file(i)), directory.ImportOptions{})
				if err != nil || len(res.Errors) > 0 || res.Created+res.Updated != 10_000 {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}
