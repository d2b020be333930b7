package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Warnings lists what c allows but what is risky or probably not meant
// (settings that leave sign-in unusable on the hosts users will use, or
// that do nothing), one sentence each, starting with the variable's name.
// `portcullis check` prints them and the server logs them at start-up.
// Like validate, it is pure.
func (c *Config) Warnings() []string {
	var out []string
	n := func(suffix string) string { return Prefix + suffix }
	switch {
	case c.PublicURL == nil && len(c.AllowedHosts) == 0:
		out = append(out, n("PUBLIC_URL")+": not set, and neither is "+n("ALLOWED_HOSTS")+
			": Portcullis signs users in only on loopback hosts (localhost, 127.0.0.1, [::1]) and the hosts of the providers' REDIRECT_URL;"+
			" on any other host the sign-in pages answer 400. Set "+n("PUBLIC_URL")+" to the URL users reach Portcullis on")
	case c.PublicURL != nil && len(c.AllowedHosts) > 0:
		out = append(out, n("ALLOWED_HOSTS")+": ignored, because "+n("PUBLIC_URL")+" is set: every URL Portcullis builds is on it")
	}
	if u := c.PublicURL; c.CookieSecure && u != nil && u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		out = append(out, fmt.Sprintf("%s: true with the http:// %s %q: browsers drop Secure cookies sent over plain http"+
			" (except on localhost), so every sign-in would fail with \"not valid in this browser\"."+
			" Serve https (and make %s https://…), or set %s=false for a test on http",
			n("COOKIE_SECURE"), n("PUBLIC_URL"), u.Redacted(), n("PUBLIC_URL"), n("COOKIE_SECURE")))
	}
	for _, p := range c.Providers {
		if p.ResponseMode != "form_post" {
			continue
		}
		if u := c.PublicURL; u != nil && u.Scheme == "http" && !loopbackHost(u.Hostname()) {
			out = append(out, fmt.Sprintf("%sRESPONSE_MODE: form_post with the http:// %s %q: its sign-in flow cookie is SameSite=None,"+
				" which browsers accept only Secure, and they drop Secure cookies sent over plain http (except on localhost),"+
				" so every sign-in would fail with \"not valid in this browser\". Serve https", p.Prefix, n("PUBLIC_URL"), u.Redacted()))
		} else if !c.CookieSecure {
			out = append(out, p.Prefix+"RESPONSE_MODE: form_post makes the sign-in flow cookie SameSite=None; Secure whatever "+
				n("COOKIE_SECURE")+" says (browsers accept SameSite=None only Secure): sign-in then works over https and on localhost only")
		}
	}
	for _, p := range c.Providers {
		out = append(out, p.warnings()...)
	}
	if c.UserFrom == "username" {
		out = append(out, n("USER_FROM")+"=username: X-User is the username claim, which many providers let users choose or change "+
			"(preferred_username is mutable at Microsoft; a GitHub login can be renamed and then registered by someone else), "+
			"so two people can get the same X-User over time; auto, email and id never give two people the same X-User")
	}
	if c.BearerAllowUnbound {
		out = append(out, n("BEARER_ALLOW_UNBOUND")+"=true: an opaque token of a provider with no introspection endpoint "+
			"(and no check of its own) is accepted whenever its userinfo URL accepts it, including tokens the provider "+
			"issued to other apps: anyone holding a user's token for any app (one the user once authorised, a personal "+
			"access token) gets in as that user. Prefer INTROSPECTION_URL or JWT access tokens")
	}
	if c.AllowedEmailsFile != "" && len(c.AllowedEmails) == 0 {
		out = append(out, n("ALLOWED_EMAILS_FILE")+": lists no address, so no one is admitted by address"+
			" (only by "+n("ALLOWED_EMAIL_DOMAINS")+", when set)")
	}
	if c.BasicAuthPassword != "" && !usesBasic(c.InjectHeaders) && !usesBasic(c.AuthResponseHeaders) {
		out = append(out, n("BASIC_AUTH_PASSWORD")+": set, but no "+n("INJECT_HEADERS")+" or "+n("AUTH_RESPONSE_HEADERS")+
			" entry uses basic:, so it is sent nowhere (Authorization=basic:user sends it with the user's name)")
	}
	return out
}

// warnings are a provider's settings that do nothing.
func (p *Provider) warnings() []string {
	var out []string
	n := func(suffix string) string { return p.Prefix + suffix }
	// GitHub's and Facebook's own token checks send the secret whatever
	// the style (providers/tokencheck.go).
	ownCheck := p.Preset == "github" || p.Preset == "facebook"
	switch style := p.TokenAuthStyle; style {
	case "none", "private_key_jwt", "client_assertion":
		if p.ClientSecret != "" && !ownCheck {
			out = append(out, fmt.Sprintf("%s: set, but %s=%s authenticates the client without it: it is never sent"+
				" (not to the token, refresh, introspection or revocation endpoints); remove it",
				n("CLIENT_SECRET"), n("TOKEN_AUTH_STYLE"), style))
		}
	}
	if p.ClientKeyFile != "" && p.TokenAuthStyle != "private_key_jwt" && p.Preset != "apple" {
		out = append(out, fmt.Sprintf("%s: set, but used by nothing: it signs %s=private_key_jwt client assertions"+
			" and the apple preset's client secret, and this provider has neither", n("CLIENT_KEY_FILE"), n("TOKEN_AUTH_STYLE")))
	}
	return out
}

// usesBasic reports whether a rule has a basic: source.
func usesBasic(rules []HeaderRule) bool {
	for _, r := range rules {
		if strings.HasPrefix(r.Source, "basic:") {
			return true
		}
	}
	return false
}

// loopbackHost reports whether a URL's host (without port or brackets)
// is localhost or a loopback address, where browsers keep Secure cookies
// even over http.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
