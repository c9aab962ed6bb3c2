package graph_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"socdesk/ent/explanationlink"
	"socdesk/internal/devtools/testdb"
)

// TestExplanationPageInBrowser: the violator answers on their personal
// page in headless chromium, with no JavaScript of the page's and no
// Content-Security-Policy violation (the form posts, its cookie goes).
func TestExplanationPageInBrowser(t *testing.T) {
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("chromium"); err != nil {
			testdb.SkipOrFail(t, "chromium is not installed (apt-get install -y chromium): %v", err)
		}
	}
	e := newEnv(t, testdb.Backends[len(testdb.Backends)-1])
	w := newExpWorld(e)
	r := w.create(nil)
	token := w.link(r.ID, w.violator, explanationlink.RoleVIOLATOR)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective));`}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/explain/"+token),
		chromedp.WaitVisible(chromedp.CSS(`textarea#comment`)),
		chromedp.SendKeys(chromedp.CSS(`textarea#comment`), "Typed in a browser."),
		chromedp.Click(chromedp.CSS(`button[value=SUBMIT]`)),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	// The post answers with the page again (a navigation).
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`p.notice`))); err != nil {
		t.Fatalf("browser: waiting for the answer's page: %v", err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("p.notice").innerText`))
	if err != nil || notice != "Thank you: recorded." {
		t.Fatalf("notice %q (%v)", notice, err)
	}
	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp`))
	if err != nil || len(csp) != 0 {
		t.Fatalf("CSP violations %v (%v)", csp, err)
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.scripts.length`))
	if err != nil || scripts != 0 {
		t.Fatalf("%d scripts on the page (%v)", scripts, err)
	}
	got := w.get(r.ID)
	if got.Status != "SUBMITTED" || got.Steps[len(got.Steps)-1].Comment != "Typed in a browser." {
		t.Fatalf("after the browser's post: %+v", got)
	}
}
