package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/carnet-sante/carnet/internal/audit"
	"github.com/carnet-sante/carnet/internal/clock"
	"github.com/carnet-sante/carnet/internal/errs"
	"github.com/carnet-sante/carnet/internal/oauth"
	"github.com/carnet-sante/carnet/internal/terminology"
)

const oauthUsage = `usage: carnet oauth <action> [flags]

The clients of carnet's OAuth 2 server (/oauth/token, /oauth/authorize):

  add      --name N --grant client_credentials (--idnat IDNAT | --operator LOGIN) --scope S
           a professional's or an organisation's software, acting with that account's rights
  add      --name N --grant authorization_code [--grant refresh_token] --redirect-uri URI...
           --scope S [--public]
           an app a patient connects (consent page), e.g. --scope "patient/DocumentReference.rs";
           carnet serve connects only the apps of the catalogue: record one with carnet apps add
  list     every client
  disable  --id ID        (its grants and tokens end at once)
  rotate-secret --id ID

A confidential client's secret is printed once; only its hash is kept.`

func runOAuth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, oauthUsage)
		return errUsage
	}
	action := args[0]
	var name, scope, idnat, operator, id string
	var grants, redirects multi
	var public, introspect bool
	a, _, err := openAdmin(ctx, "oauth "+action, args[1:], stderr, func(fs *flag.FlagSet) {
		switch action {
		case "add":
			fs.StringVar(&name, "name", "", "the client's name, shown to patients and in trails")
			fs.Var(&grants, "grant", "client_credentials, authorization_code or refresh_token (repeatable)")
			fs.Var(&redirects, "redirect-uri", "an exact redirect URI (repeatable)")
			fs.StringVar(&scope, "scope", "", "the most the client may ask (SMART syntax)")
			fs.StringVar(&idnat, "idnat", "", "client_credentials: the professional it acts for")
			fs.StringVar(&operator, "operator", "", "client_credentials: the operator account it acts for")
			fs.BoolVar(&public, "public", false, "a public client (a mobile or browser app, PKCE only)")
			fs.BoolVar(&introspect, "may-introspect", false, "a resource server that may introspect every token")
		case "disable", "rotate-secret":
			fs.StringVar(&id, "id", "", "the client's id")
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
	reg := oauth.NewRegistry(a.db.OAuth(), clock.System{}, catalog)
	switch action {
	case "add":
		c := oauth.Client{Name: name, Type: oauth.Confidential, RedirectURIs: redirects, Scope: scope, MayIntrospect: introspect}
		if public {
			c.Type = oauth.Public
		}
		for _, g := range grants {
			c.GrantTypes = append(c.GrantTypes, oauth.GrantType(g))
		}
		if idnat != "" || operator != "" {
			if c.Subject, err = a.tokenSubject(ctx, idnat, operator, ""); err != nil {
				return err
			}
		}
		c, secret, err := reg.Register(ctx, a.by, audit.ChannelCLI, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client %s (%s, %s) registered\n", c.ID, c.Name, c.Type)
		if secret != "" {
			fmt.Fprintf(stdout, "secret (shown once):\n%s\n", secret)
		}
		return nil
	case "list":
		cs, err := reg.Clients(ctx)
		if err != nil {
			return err
		}
		for _, c := range cs {
			state := "enabled"
			if !c.Enabled() {
				state = "disabled"
			}
			gs := make([]string, len(c.GrantTypes))
			for i, g := range c.GrantTypes {
				gs[i] = string(g)
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Type, strings.Join(gs, ","), c.Scope, state)
		}
		return nil
	case "disable":
		if err := reg.Disable(ctx, a.by, audit.ChannelCLI, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "client %s disabled; its grants and tokens are revoked\n", id)
		return nil
	case "rotate-secret":
		secret, err := reg.RotateSecret(ctx, a.by, audit.ChannelCLI, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new secret of %s (shown once):\n%s\n", id, secret)
		return nil
	}
	fmt.Fprintln(stderr, oauthUsage)
	return errs.E(errs.Invalid, "unknown action %q", action)
}
