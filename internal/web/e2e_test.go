package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/roster-dev/roster"
)

// The end-to-end test drives the real app in a real headless Chromium: first start,
// sign-in, the wizard with a file with errors, the error CSV download, the fixed file,
// the preview, the commit and the Learners tab. It saves a screenshot of each step in a
// temporary directory, or in docs/screenshots with ROSTER_SCREENSHOTS=docs (to refresh the
// documentation's pictures; a plain test run leaves the tree as it was). Without Chromium
// it fails, unless ROSTER_TEST_BROWSER=off.

func findChromium(t *testing.T) string {
	if os.Getenv("ROSTER_TEST_BROWSER") == "off" {
		t.Skip("ROSTER_TEST_BROWSER=off: end-to-end browser tests not run")
	}
	if p := os.Getenv("ROSTER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium not found (install the chromium package, set ROSTER_CHROMIUM, or set ROSTER_TEST_BROWSER=off to skip explicitly)")
	return ""
}

const e2eBadCSV = "First name,Last name,Work email,Employee ID,Job title,Department,Location\r\n" +
	"Amara,Okafor,amara.okafor@acme.com,E1001,Engineering Manager,Engineering,Lagos\r\n" +
	"Lukas,Schmidt,lukas.schmidt@acme,E1002,Backend Engineer,Engineering,Berlin\r\n" +
	",Tanaka,yui.tanaka@acme.com,E1003,Designer,Product,Tokyo\r\n" +
	"Sofia,Rossi,sofia.rossi@gmail.com,E1004,Account Executive,Sales,Milan\r\n" +
	"\"=HYPERLINK(\"\"http://x\"\")\",Evil,mallory@acme.com,E1005,Analyst,Finance,London\r\n" +
	"Chen,Wei,chen.wei@acme.com,E1001,Data Scientist,Engineering,Singapore\r\n"

var e2eFixedCSV = "First name,Last name,Work email,Employee ID,Job title,Department,Location,Manager email\r\n" +
	"Amara,Okafor,amara.okafor@acme.com,E1001,Engineering Manager,Engineering,Lagos,\r\n" +
	"Lukas,Schmidt,lukas.schmidt@acme.com,E1002,Backend Engineer,Engineering,Berlin,amara.okafor@acme.com\r\n" +
	"Yui,Tanaka,yui.tanaka@acme.com,E1003,Product Designer,Product,Tokyo,\r\n" +
	"Sofia,Rossi,sofia.rossi@acme.com,E1004,Account Executive,Sales,Milan,\r\n" +
	"Mallory,Evans,mallory@acme.com,E1005,Financial Analyst,Finance,London,\r\n" +
	"Chen,Wei,chen.wei@acme.com,E1006,Data Scientist,Engineering,Singapore,amara.okafor@acme.com\r\n" +
	"José,Núñez,jose.nunez@acme.com,E1007,Support Lead,Customer Success,Madrid,\r\n" +
	"Zoë,O'Brien,zoe.obrien@acme.com,E1008,People Partner,People,Dublin,\r\n" +
	"Priya,Raman,priya.raman@acme.com,E1009,Site Reliability Engineer,Engineering,Bengaluru,amara.okafor@acme.com\r\n" +
	"Nguyễn,Anh,anh.nguyen@acme.com,E1010,QA Engineer,Engineering,Ho Chi Minh City,amara.okafor@acme.com\r\n"

func TestE2EBrowser(t *testing.T) {
	chromium := findChromium(t)
	e := newEnv(t)
	shots := filepath.Join(t.TempDir(), "screenshots")
	if os.Getenv("ROSTER_SCREENSHOTS") == "docs" {
		shots = filepath.Join("..", "..", "docs", "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	badPath, fixedPath := filepath.Join(dir, "people.csv"), filepath.Join(dir, "people-fixed.csv")
	os.WriteFile(badPath, []byte(e2eBadCSV), 0o644)
	os.WriteFile(fixedPath, []byte(e2eFixedCSV), 0o644)
	downloads := filepath.Join(dir, "downloads")
	os.MkdirAll(downloads, 0o755)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		// Chromium puts its singleton socket in a directory of TMPDIR that it leaves
		// behind: one per run in /tmp, unless it is the test's own.
		chromedp.Env("TMPDIR="+dir),
		chromedp.WindowSize(1360, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	// The first call starts the browser; it must not run under a timeout (that would
	// stop the browser), the steps after it do.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	fail := func(step string, err error) {
		t.Helper()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\nat %s\n%s", step, err, loc, body)
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		// Generous: a step takes a second or two, but the whole suite runs beside it (a
		// full run on two cores once took a step past 30 s).
		sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			fail(step, err)
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("text of "+sel, err)
		}
		return s
	}
	u := e.ts.URL

	// First start: the setup page.
	run("setup",
		chromedp.Navigate(u+"/"),
		chromedp.WaitVisible(chromedp.ID("org_name")),
		chromedp.SendKeys(chromedp.ID("org_name"), "Acme Corp"),
		chromedp.SendKeys(chromedp.ID("domains"), "acme.com"),
		chromedp.SendKeys(chromedp.ID("name"), "Dana Whitfield"),
		chromedp.SendKeys(chromedp.ID("email"), "dana@acme.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		shot("01-setup"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("upload-form")),
	)
	// Sign out, then sign in.
	run("sign out", chromedp.Click(chromedp.CSS(".account button")), chromedp.WaitVisible(chromedp.ID("password")))
	run("sign in",
		chromedp.SendKeys(chromedp.ID("email"), "dana@acme.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		shot("02-sign-in"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(".nav")),
	)
	// Some learners exist already, so the preview has changes to show.
	org, err := e.store.OrganizationBySlug(context.Background(), "acme-corp")
	if err != nil {
		t.Fatal(err)
	}
	e.seedLearners(org.ID,
		roster.Learner{Email: "amara.okafor@acme.com", FirstName: "Amara", LastName: "Okafor", EmployeeID: "E1001", JobTitle: "Senior Engineer", Department: "Engineering", Location: "Lagos", Active: true},
		roster.Learner{Email: "yui.tanaka@acme.com", FirstName: "Yui", LastName: "Tanaka", EmployeeID: "E1003", JobTitle: "Designer", Department: "Design", Location: "Tokyo", Active: true},
		roster.Learner{Email: "sofia.rossi@acme.com", FirstName: "Sofia", LastName: "Rossi", EmployeeID: "E1004", JobTitle: "Account Executive", Department: "Sales", Location: "Milan"},
	)

	// The wizard, with a file with errors.
	run("upload the file with errors",
		chromedp.Navigate(u+"/uploads/new"),
		chromedp.WaitVisible(chromedp.ID("file")),
		shot("03-upload"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{badPath}),
		chromedp.Click(chromedp.CSS("#upload-form button[type=submit]")),
		chromedp.WaitVisible(`//h1[text()="Resolve errors"]`),
		shot("04-resolve-errors"),
	)
	text := textOf("main")
	for _, want := range []string{"Invalid email", "Missing required value", "Email domain not in your organization", "Invalid name", "Duplicate employee ID"} {
		if !strings.Contains(text, want) {
			t.Errorf("resolve-errors view lacks %q:\n%s", want, text)
		}
	}

	// Download the error CSV through the browser.
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	run("download the error CSV",
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			yes := true
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes,
			})
			return err
		}),
		chromedp.Click(chromedp.CSS(`a[href$="/errors.csv"]`)),
	)
	got := make(chan string, 1)
	go func() {
		for ev, err := range progress {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				got <- ev.GUID
				return
			}
		}
	}()
	select {
	case guid := <-got:
		b, err := os.ReadFile(filepath.Join(downloads, guid))
		if err != nil {
			t.Fatal(err)
		}
		csv := string(b)
		if !strings.HasPrefix(csv, "row,column,code,value,message") || !strings.Contains(csv, "invalid_email") || !strings.Contains(csv, `"'=HYPERLINK`) {
			t.Fatalf("downloaded error CSV:\n%s", csv)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the error CSV download did not complete")
	}

	// The corrected file, then the preview.
	run("upload the corrected file",
		chromedp.Click(`//a[contains(., "Upload corrected file")]`),
		chromedp.WaitVisible(`//strong[text()="Upload the corrected file"]`),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{fixedPath}),
		chromedp.Click(chromedp.CSS("#upload-form button[type=submit]")),
		chromedp.WaitVisible(`//h1[text()="Preview changes"]`),
		shot("05-preview"),
	)
	text = textOf("main")
	for _, want := range []string{"New learners", "Changed learners", "Senior Engineer", "Engineering Manager", "Design", "Product"} {
		if !strings.Contains(text, want) {
			t.Errorf("preview lacks %q", want)
		}
	}
	// Commit: a double click commits once.
	run("commit",
		chromedp.DoubleClick(`//button[text()="Upload learners"]`),
		chromedp.WaitVisible(`//h1[text()="Import complete"]`),
		shot("06-result"),
	)
	if text = textOf("main"); !strings.Contains(text, "7 added, 2 updated, 1 unchanged") {
		t.Errorf("result page: %s", text)
	}
	bs, _ := e.store.ImportBatches(context.Background(), org.ID, 10)
	if len(bs) != 2 {
		t.Fatalf("%d batches after a double click, want 2 (the seed and one upload)", len(bs))
	}

	// The learners are in the Learners tab.
	run("learners tab",
		chromedp.Click(`//a[text()="View learners"]`),
		chromedp.WaitVisible(chromedp.CSS("table")),
		shot("07-learners"),
	)
	text = textOf("table")
	for _, want := range []string{"anh.nguyen@acme.com", "José Núñez", "Zoë O'Brien", "Product Designer"} {
		if !strings.Contains(text, want) {
			t.Errorf("learners table lacks %q", want)
		}
	}
	run("search",
		chromedp.SendKeys(chromedp.ID("q"), "a"),
		chromedp.SetValue(chromedp.ID("department"), "Engineering"),
		chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(`//a[text()="Clear"]`),
		shot("08-learners-filtered"),
	)
	if text = textOf("table"); strings.Contains(text, "Sofia") || !strings.Contains(text, "Amara") {
		t.Errorf("the filter: %s", text)
	}
	run("learner page",
		chromedp.Click(`//a[text()="Lukas Schmidt"]`),
		chromedp.WaitVisible(`//h1[text()="Lukas Schmidt"]`),
		shot("09-learner"),
		chromedp.Navigate(u+"/imports"),
		chromedp.WaitVisible(chromedp.CSS("table")),
		shot("10-import-history"),
	)
	// From the newest import to the learners it wrote.
	run("an import's learners",
		chromedp.Click(`//table//a`),
		chromedp.WaitVisible(chromedp.ID("batch-learners")),
		chromedp.Click(chromedp.ID("batch-learners")),
		chromedp.WaitVisible(chromedp.ID("batch-filter")),
		shot("12-import-learners"),
	)
	if text = textOf("table"); !strings.Contains(text, "Lukas") {
		t.Errorf("the import's learners: %s", text)
	}
	run("settings",
		chromedp.Navigate(u+"/settings"),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SendKeys(chromedp.ID("token-name"), "HR export script"),
		chromedp.Submit(chromedp.ID("token-name")),
		chromedp.WaitVisible(chromedp.ID("new-token")),
		shot("11-settings"),
	)
	// On a phone (390 px) no signed-in page scrolls sideways: the top bar wraps, wide
	// tables scroll inside their card, and the wizard's steps wrap. Every page did, by
	// 120-340 px, before.
	run("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, path := range []string{"/learners", "/uploads/new", "/imports", "/settings", "/learners?q=lukas"} {
		run("phone width "+path, chromedp.Navigate(u+path), chromedp.WaitVisible(chromedp.CSS("main")))
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		widths, err := chromedp.Run(sctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
		cancel()
		if err != nil {
			fail("phone width of "+path, err)
		}
		if len(widths) != 2 || widths[0] > widths[1] {
			t.Errorf("%s at 390 px: the page is %v wide (scroll, client)", path, widths)
		}
	}
	t.Log("screenshots written to", shots)
}
