package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/roster-dev/roster"
	"github.com/roster-dev/roster/internal/auth"
	"github.com/roster-dev/roster/internal/idn"
)

func orgCreate(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "org create")
	slug := fs.String("slug", "", "short name used in URLs and commands (required)")
	name := fs.String("name", "", "display name (required)")
	var domains multiFlag
	fs.Var(&domains, "domain", "an email domain of the organization (repeatable, at least one)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs("org create", pos); err != nil {
		return err
	}
	if *slug == "" || *name == "" || len(domains) == 0 {
		return usagef("org create needs --slug, --name and at least one --domain")
	}
	// The web's rules: a slug as its setup page would make it, never rewritten here.
	if err := roster.CheckSlug(*slug); err != nil {
		return err
	}
	orgName := strings.TrimSpace(*name)
	if err := roster.CheckName("organization name", orgName); err != nil {
		return err
	}
	clean, bad := roster.ParseDomains(strings.Join(domains, ","), idn.ASCII)
	switch {
	case bad != "":
		return roster.Errorf(roster.EINVALID, "%q is not an email domain: write domains like acme.com or bücher.de", bad)
	case len(clean) == 0:
		return usagef("org create needs at least one --domain")
	case len(clean) > maxDomains:
		return roster.Errorf(roster.EINVALID, "use at most %d domains", maxDomains)
	}
	store, err := openStore(ctx, e.dbURL(*db))
	if err != nil {
		return err
	}
	defer store.Close()
	org := &roster.Organization{Slug: *slug, Name: orgName, Domains: clean}
	if err := store.CreateOrganization(ctx, org); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Created organization %s (%s) with domains %s.\n", org.Slug, org.Name, strings.Join(org.Domains, ", "))
	return nil
}

// maxDomains is the most domains an organization has, as on the web's settings page.
const maxDomains = 100

func orgList(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "org list")
	format := fs.String("format", "text", "text or json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs("org list", pos); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format must be text or json")
	}
	store, err := openExistingStore(ctx, e.dbURL(*db))
	if err != nil {
		return err
	}
	defer store.Close()
	orgs, err := store.Organizations(ctx)
	if err != nil {
		return err
	}
	if *format == "json" {
		if orgs == nil {
			orgs = []roster.Organization{}
		}
		return json.NewEncoder(e.stdout).Encode(orgs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tNAME\tDOMAINS")
	for _, o := range orgs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Slug, o.Name, strings.Join(o.Domains, ", "))
	}
	return tw.Flush()
}

// orgBySlug opens the store and finds the organization of --org. The store must exist:
// one made now would hold no organization.
func orgBySlug(ctx context.Context, e *env, dbFlag, slug string) (roster.Store, *roster.Organization, error) {
	if slug == "" {
		return nil, nil, usagef("--org is required")
	}
	store, err := openExistingStore(ctx, e.dbURL(dbFlag))
	if err != nil {
		return nil, nil, err
	}
	org, err := store.OrganizationBySlug(ctx, slug)
	if err != nil {
		store.Close()
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			return nil, nil, usagef("no organization with the slug %q (roster org list shows them)", slug)
		}
		return nil, nil, err
	}
	return store, org, nil
}

func adminCreate(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "admin create")
	slug := fs.String("org", "", "organization slug (required)")
	email := fs.String("email", "", "the admin's email, used to sign in (required)")
	name := fs.String("name", "", "the admin's name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs("admin create", pos); err != nil {
		return err
	}
	if *email == "" {
		return usagef("admin create needs --email")
	}
	// The web's "add admin" rules: a plain address, a name of up to 200 characters.
	addr := idn.Email(strings.TrimSpace(*email))
	if !roster.ValidAdminEmail(addr) {
		return roster.Errorf(roster.EINVALID, "%q is not an email address like jane@acme.com", *email)
	}
	adminName := strings.TrimSpace(*name)
	if adminName != "" {
		if err := roster.CheckName("admin's name", adminName); err != nil {
			return err
		}
	}
	password, err := readPassword(e, *fromStdin)
	if err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	store, org, err := orgBySlug(ctx, e, *db, *slug)
	if err != nil {
		return err
	}
	defer store.Close()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	a := &roster.Admin{OrgID: org.ID, Email: addr, Name: adminName, PasswordHash: hash}
	if err := store.CreateAdmin(ctx, a); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Created admin %s for %s.\n", a.Email, org.Slug)
	// As on the web, an admin may sign in with an address outside the organization's
	// domains (a consultant, a shared HR mailbox), but that is worth a second look.
	if !org.HasDomain(addr[strings.LastIndexByte(addr, '@')+1:]) {
		fmt.Fprintf(e.stderr, "Note: %s is not in %s's email domains (%s).\n", a.Email, org.Slug, strings.Join(org.Domains, ", "))
	}
	return nil
}

// checkPassword is the web's rule (auth.NewPasswordProblem).
func checkPassword(p string) error {
	if msg := auth.NewPasswordProblem(p); msg != "" {
		return roster.Errorf(roster.EINVALID, "%s", strings.TrimSuffix(msg, "."))
	}
	return nil
}

// readPassword reads one line from stdin with --password-stdin, or prompts on a terminal.
func readPassword(e *env, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", usagef("--password-stdin: no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("give the password with --password-stdin, or run on a terminal to be asked for it")
	}
	fmt.Fprint(e.stderr, "Password: ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

func tokenCreate(ctx context.Context, e *env, args []string) error {
	fs, db := newFlags(e, "token create")
	slug := fs.String("org", "", "organization slug (required)")
	name := fs.String("name", "cli", "a name to recognise the token by")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs("token create", pos); err != nil {
		return err
	}
	if err := roster.CheckTokenName(*name); err != nil {
		return err
	}
	store, org, err := orgBySlug(ctx, e, *db, *slug)
	if err != nil {
		return err
	}
	defer store.Close()
	secret := auth.NewAPIToken()
	t := &roster.APIToken{OrgID: org.ID, Name: *name, Hash: auth.Digest(secret)}
	if err := store.CreateToken(ctx, t); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, secret)
	fmt.Fprintf(e.stderr, "Created API token %q for %s. It is shown once: keep it somewhere safe.\n", t.Name, org.Slug)
	return nil
}
