// Package assets embeds the web app's templates (templates/) and static files (static/:
// CSS, JavaScript, icons) into the binary, so that `go run` needs no build step.
package assets

import "embed"

// FS holds templates/layout.html, templates/partials/*.html, templates/pages/*.html and
// static/*.
//
//go:embed templates static
var FS embed.FS
