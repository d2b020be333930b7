package proxy

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/portcullis/portcullis/metrics"
	"github.com/portcullis/portcullis/providers"
	"github.com/portcullis/portcullis/session"
)

// The implicit flow (RESPONSE_TYPE=token): the provider puts the access
// token in the URL fragment, which never reaches a server. The callback
// serves a small page whose script reads the fragment and POSTs it back to
// the callback; the script runs under a Content-Security-Policy that admits
// only it, by a per-response nonce.

//go:embed templates/relay.html
var relayHTML string

var relayTemplate = template.Must(template.New("relay").Parse(relayHTML))

// hasImplicit reports whether any provider uses the implicit flow.
func (s *Server) hasImplicit() bool {
	for _, p := range s.providerList {
		if p.ResponseType == "token" {
			return true
		}
	}
	return false
}

// serveRelay writes the page that relays the URL fragment.
func (s *Server) serveRelay(w http.ResponseWriter) {
	nonce := randomString()
	var buf bytes.Buffer
	if err := relayTemplate.Execute(&buf, map[string]any{"CSS": template.CSS(pageCSS), "Nonce": nonce, "Action": s.paths.prefix + "/callback"}); err != nil {
		s.log.Error("render relay page", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	h := w.Header() // the security headers are set (instrument); the CSP admits the script
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src "+styleSource+
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// A TokenChecker confirms that an access token was issued to this
// client, and says until when the provider holds it valid (zero: it did
// not say). *providers.BearerValidator is one.
type TokenChecker interface {
	Check(ctx context.Context, token string) (*providers.Identity, time.Time, error)
}

// completeImplicit completes an implicit-flow sign-in with the fragment
// the relay page posted (form), once callbackPost has checked that the post
// is same-origin and spent its state: the provider must confirm the access
// token was issued to this client (Provider.TokenCheck) — anyone can post
// a token of another app with a fresh state — and the session lives as
// long as the provider says the token does, whatever expires_in the
// browser posted. The identity comes from the userinfo URL, as in the code
// flow.
func (s *Server) completeImplicit(w http.ResponseWriter, r *http.Request, p *Provider, flow *session.Flow, form url.Values) {
	if code := form.Get("error"); code != "" {
		s.providerRefused(w, r, p, code, form.Get("error_description"))
		return
	}
	token := form.Get("access_token")
	if token == "" {
		s.signInResult(p.ID, metrics.SignInProviderError)
		s.fail(w, r, http.StatusBadGateway, "Sign-in failed", "The provider's answer carried no access token.")
		return
	}
	_, exp, err := p.TokenCheck.Check(r.Context(), token)
	switch {
	case errors.Is(err, providers.ErrRejected) || errors.Is(err, providers.ErrDeadGrant):
		s.log.Info("sign-in denied: the provider did not confirm the access token is this client's", "audit", "denial", "provider", p.ID, "err", err)
		s.signInResult(p.ID, metrics.SignInDenied)
		s.fail(w, r, http.StatusForbidden, "Sign-in refused",
			"The provider did not confirm that this access token was issued to this application, or it is no longer valid. Start the sign-in again.")
		return
	case err != nil:
		s.providerFailed(w, r, p, "Portcullis could not check the access token with the provider", err)
		return
	}
	s.finishSignIn(w, r, p, flow, &providers.Tokens{AccessToken: token, TokenType: form.Get("token_type"), Expiry: exp})
}
