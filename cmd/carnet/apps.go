package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/catalogue"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/terminology"
)

const appsUsage = `usage: carnet apps <action> [flags]

The catalogue of referenced health apps (each an OAuth client that patients connect):

  add         --name N --publisher P --category C --description D --website URL --privacy URL
              --data CLASS=JUSTIFICATION... --redirect-uri URI... --scope S [--public] [--offline]
              [--id ID] [--logo FILE]
              a new candidate app, e.g. --scope "patient/DocumentReference.rs patient/Observation.c"
              --data "11=Afficher vos mesures à côté de votre synthèse"
  list        [--status candidate|referenced|suspended|withdrawn]
  show        --id ID
  set-status  --id ID --status referenced|suspended|withdrawn [--reason R]
              suspending or withdrawing revokes every token of the app at once
  update      --id ID and the flags of add to change (the others keep their value)

Categories: ` + "mesures, maladie-chronique, prevention, grossesse-enfance, medicaments, sante-mentale, autre" + `.
Data categories are document classes (TRE_A03 codes: 10, 11, 90…). A confidential app's secret
is printed once; only its hash is kept.`

func runApps(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, appsUsage)
		return errUsage
	}
	action := args[0]
	var in catalogue.Input
	var id, status, reason, logo string
	var data, redirects multi
	a, fs, err := openAdmin(ctx, "apps "+action, args[1:], stderr, func(fs *flag.FlagSet) {
		switch action {
		case "add", "update":
			fs.StringVar(&id, "id", "", "the app's OAuth client id (add: random when empty)")
			fs.StringVar(&in.Name, "name", "", "the app's name, shown to patients and in trails")
			fs.StringVar(&in.Publisher, "publisher", "", "its publisher")
			fs.StringVar(&in.Category, "category", "", "its category in the catalogue")
			fs.StringVar(&in.Description, "description", "", "what it does, in plain French")
			fs.StringVar(&in.Website, "website", "", "its website (https)")
			fs.StringVar(&in.PrivacyPolicy, "privacy", "", "its privacy policy (https)")
			fs.Var(&data, "data", "CLASS=JUSTIFICATION, a data category asked for and why (repeatable)")
			fs.Var(&redirects, "redirect-uri", "an exact OAuth redirect URI (repeatable)")
			fs.StringVar(&in.Scopes, "scope", "", "the SMART scopes it may ask (patient/…)")
			fs.BoolVar(&in.Offline, "offline", false, "it may stay connected (refresh tokens)")
			fs.StringVar(&logo, "logo", "", "a PNG or JPEG file, its logo")
			if action == "add" {
				fs.BoolVar(&in.Public, "public", false, "a public client (mobile or browser app, PKCE only)")
			}
		case "list":
			fs.StringVar(&status, "status", "", "only the apps of this status")
		case "show":
			fs.StringVar(&id, "id", "", "the app's id")
		case "set-status":
			fs.StringVar(&id, "id", "", "the app's id")
			fs.StringVar(&status, "status", "", "referenced, suspended or withdrawn")
			fs.StringVar(&reason, "reason", "", "why (traced)")
		}
	})
	if err != nil {
		return err
	}
	defer a.db.Close()
	catalog, err := terminology.Default()
	if err != nil {
		return err
	}
	svc := catalogue.NewService(a.db.Catalogue(), clock.System{}, catalog, oauth.NewRegistry(a.db.OAuth(), clock.System{}, catalog))
	readData := func() error {
		in.Data = nil
		for _, d := range data {
			class, why, ok := strings.Cut(d, "=")
			if !ok {
				return errs.E(errs.Invalid, "--data is CLASS=JUSTIFICATION, e.g. 11=\"Afficher vos mesures\"")
			}
			in.Data = append(in.Data, catalogue.DataCategory{Class: class, Justification: why})
		}
		in.RedirectURIs = redirects
		return nil
	}
	setLogo := func(appID string) error {
		if logo == "" {
			return nil
		}
		b, err := readBounded(logo, catalogue.MaxLogoBytes)
		if err != nil {
			return err
		}
		if err := svc.SetLogo(ctx, a.by, audit.ChannelCLI, appID, b); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "logo of %s saved\n", appID)
		return nil
	}
	switch action {
	case "add":
		if err := readData(); err != nil {
			return err
		}
		in.ID = id
		if logo != "" {
			// Checked before anything is recorded, so that a bad file leaves no half-made app.
			b, err := readBounded(logo, catalogue.MaxLogoBytes)
			if err != nil {
				return err
			}
			if _, err := catalogue.CheckLogo(b); err != nil {
				return err
			}
		}
		app, secret, err := svc.Add(ctx, a.by, audit.ChannelCLI, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "app %s (%s) recorded as a candidate; client scope %s\n", app.ID, app.Name, app.ClientScope)
		if secret != "" {
			fmt.Fprintf(stdout, "client secret (shown once):\n%s\n", secret)
		}
		return setLogo(app.ID)
	case "update":
		cur, err := svc.Get(ctx, id)
		if err != nil {
			return err
		}
		// The flags given replace; the others keep the app's current values.
		next := catalogue.Input{Name: cur.Name, Publisher: cur.Publisher, Category: cur.Category, Description: cur.Description,
			Website: cur.Website, PrivacyPolicy: cur.PrivacyPolicy, Data: cur.Data, RedirectURIs: cur.RedirectURIs, Scopes: cur.Scopes,
			Public: cur.Public, Offline: cur.Offline}
		if err := readData(); err != nil {
			return err
		}
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "name":
				next.Name = in.Name
			case "publisher":
				next.Publisher = in.Publisher
			case "category":
				next.Category = in.Category
			case "description":
				next.Description = in.Description
			case "website":
				next.Website = in.Website
			case "privacy":
				next.PrivacyPolicy = in.PrivacyPolicy
			case "data":
				next.Data = in.Data
			case "redirect-uri":
				next.RedirectURIs = in.RedirectURIs
			case "scope":
				next.Scopes = in.Scopes
			case "offline":
				next.Offline = in.Offline
			}
		})
		if logo != "" {
			b, err := readBounded(logo, catalogue.MaxLogoBytes)
			if err != nil {
				return err
			}
			if _, err := catalogue.CheckLogo(b); err != nil {
				return err
			}
		}
		app, err := svc.Update(ctx, a.by, audit.ChannelCLI, id, next)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "app %s updated; client scope %s\n", app.ID, app.ClientScope)
		return setLogo(app.ID)
	case "list":
		st := catalogue.Status(status)
		if st != "" && !st.Valid() {
			return errs.E(errs.Invalid, "unknown status %q", status)
		}
		apps, err := svc.List(ctx, catalogue.Filter{Status: st})
		if err != nil {
			return err
		}
		for _, app := range apps {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\n", app.ID, app.Name, app.Publisher, app.Category, app.Status)
		}
		return nil
	case "show":
		app, err := svc.Get(ctx, id)
		if err != nil {
			return err
		}
		typ := "confidential"
		if app.Public {
			typ = "public"
		}
		fmt.Fprintf(stdout, "id\t%s\nname\t%s\npublisher\t%s\ncategory\t%s\nstatus\t%s (since %s)\nwebsite\t%s\nprivacy\t%s\n",
			app.ID, app.Name, app.Publisher, app.Category, app.Status, app.StatusAt.Format("2006-01-02 15:04"), app.Website, app.PrivacyPolicy)
		fmt.Fprintf(stdout, "client\t%s, offline=%t\nscopes\t%s\nclient scope\t%s\n", typ, app.Offline, app.Scopes, app.ClientScope)
		for _, u := range app.RedirectURIs {
			fmt.Fprintf(stdout, "redirect\t%s\n", u)
		}
		for _, d := range app.Data {
			fmt.Fprintf(stdout, "data\t%s (%s)\t%s\n", d.Class, svc.ClassLabel(d.Class), d.Justification)
		}
		logoType := app.LogoType
		if logoType == "" {
			logoType = "none"
		}
		fmt.Fprintf(stdout, "logo\t%s\ndescription\t%s\n", logoType, app.Description)
		return nil
	case "set-status":
		app, err := svc.SetStatus(ctx, a.by, audit.ChannelCLI, id, catalogue.Status(status), reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "app %s is %s\n", app.ID, app.Status)
		if app.Status == catalogue.Suspended || app.Status == catalogue.Withdrawn {
			fmt.Fprintln(stdout, "every grant and token of the app is revoked")
		}
		return nil
	}
	fmt.Fprintln(stderr, appsUsage)
	return errs.E(errs.Invalid, "unknown action %q", action)
}

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, errs.E(errs.Invalid, "%s is larger than %d KiB", path, max>>10)
	}
	return b, nil
}
