package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/roster-dev/roster/internal/assets"
)

func TestBrokenTemplateFailsAtStart(t *testing.T) {
	good, err := fs.ReadFile(assets.FS, "templates/layout.html")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"templates/layout.html":         {Data: good},
		"templates/partials/steps.html": {Data: []byte(`{{define "steps"}}{{end}}`)},
		"templates/pages/broken.html":   {Data: []byte(`{{define "content"}}{{if .Data}}unclosed{{end}}`)},
	}
	if _, err := parseTemplatesFS(fsys); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("a broken page template: err = %v, want a parse error naming it", err)
	}
	if _, err := parseTemplatesFS(fstest.MapFS{}); err == nil {
		t.Fatal("no templates at all must fail too")
	}
	if _, err := parseTemplates(); err != nil {
		t.Fatalf("the embedded templates: %v", err)
	}
}

// TestTemplatesFitTheCSP: the Content-Security-Policy allows no inline script or style,
// so the templates must hold none (it would be silently dropped by the browser).
func TestTemplatesFitTheCSP(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=`)
	err := fs.WalkDir(assets.FS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets.FS, path)
		if err != nil {
			return err
		}
		if m := inline.Find(b); m != nil {
			t.Errorf("%s: inline script or style %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
