package providers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/idp"
)

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   idp.Options
		cfg    Config
		scopes []string
	}{
		{name: "auto", opts: idp.Options{}},
		{name: "basic only", opts: idp.Options{ClientAuth: "basic"}, cfg: Config{TokenAuthStyle: AuthStyleHeader}},
		{name: "body only", opts: idp.Options{ClientAuth: "body"}, cfg: Config{TokenAuthStyle: AuthStyleParams}},
		{name: "auto falls back to the body", opts: idp.Options{ClientAuth: "body"}},
		{name: "scopes", opts: idp.Options{ExpiresIn: time.Hour}, scopes: []string{"read", "write"}},
		{name: "renamed parameters with GET",
			opts: idp.Options{ClientIDParam: "appid", ClientSecretParam: "secret", TokenMethod: "GET", TokenUserIDField: "openid"},
			cfg:  Config{ClientIDParam: "appid", ClientSecretParam: "secret", TokenMethod: "GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.ClientID, tt.opts.ClientSecret = testClientID, testClientSecret
			s := idp.New(tt.opts)
			srv := serve(t, s)
			cfg := tt.cfg
			cfg.ClientID, cfg.ClientSecret, cfg.TokenURL = testClientID, testClientSecret, srv.URL+"/token"
			cfg.Scopes = []string{"openid", "email"} // sign-in scopes: not sent
			got, err := ClientCredentials(t.Context(), cfg, tt.scopes)
			if err != nil {
				t.Fatalf("ClientCredentials() = %v; want nil", err)
			}
			if at, _ := got["access_token"].(string); at == "" {
				t.Errorf("ClientCredentials() = %v; want an access_token", got)
			}
			if got["token_type"] != "Bearer" {
				t.Errorf("token_type = %v; want Bearer", got["token_type"])
			}
			if _, ok := got["refresh_token"]; ok {
				t.Errorf("ClientCredentials() = %v; want no refresh_token", got)
			}
			if want := strings.Join(tt.scopes, " "); (got["scope"] == nil) != (want == "") || want != "" && got["scope"] != want {
				t.Errorf("scope = %v; want %q", got["scope"], want)
			}
			if tt.opts.ExpiresIn > 0 && got["expires_in"] != json.Number("3600") {
				t.Errorf("expires_in = %#v; want json.Number 3600", got["expires_in"])
			}
			if tt.opts.TokenUserIDField != "" && got["openid"] != "service-account-"+testClientID {
				t.Errorf("openid = %v; want the provider's extra fields kept", got["openid"])
			}
			// The token works at the provider.
			p := newTestProvider(t, srv, Config{})
			if _, err := p.Userinfo(t.Context(), &Tokens{AccessToken: got["access_token"].(string)}); err != nil && tt.opts.UserinfoUserIDParam == "" {
				t.Errorf("Userinfo with the token = %v; want nil", err)
			}
		})
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   idp.Options
		secret string
		kind   ErrorKind
		reason string
	}{
		{"wrong secret", idp.Options{}, "wrong-secret-value", ErrRejected, "invalid_client"},
		{"provider down", idp.Options{TokenStatus: http.StatusServiceUnavailable}, testClientSecret, ErrTransient, "503"},
		{"error with 200", idp.Options{TokenError: "unauthorized_client", ErrorWith200: true}, testClientSecret, ErrRejected, "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.ClientID, tt.opts.ClientSecret = testClientID, testClientSecret
			srv := serve(t, idp.New(tt.opts))
			_, err := ClientCredentials(t.Context(), Config{ID: "corp", ClientID: testClientID, ClientSecret: tt.secret, TokenURL: srv.URL + "/token"}, nil)
			wantProviderError(t, err, tt.kind, tt.reason, "")
			if pe, _ := errors.AsType[*Error](err); pe == nil || pe.Endpoint != "token" || pe.Provider != "corp" {
				t.Errorf("error = %#v; want provider corp, endpoint token", err)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error = %q; it quotes the secret", err)
			}
		})
	}
}

func TestClientCredentialsFormAnswer(t *testing.T) {
	t.Parallel()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, "application/x-www-form-urlencoded", "access_token=abc&token_type=bearer&expires_in=60")
	}))
	got, err := ClientCredentials(t.Context(), Config{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: srv.URL}, nil)
	if err != nil {
		t.Fatalf("ClientCredentials() = %v; want nil", err)
	}
	if got["access_token"] != "abc" || got["expires_in"] != "60" {
		t.Errorf("ClientCredentials() = %v; want access_token abc, expires_in 60", got)
	}
}

func TestClientCredentialsValidation(t *testing.T) {
	t.Parallel()
	_, err := ClientCredentials(t.Context(), Config{TokenURL: "token", TokenMethod: "PUT"}, nil)
	if err == nil {
		t.Fatal("ClientCredentials() = nil; want errors")
	}
	for _, want := range []string{"CLIENT_ID: required", "TOKEN_URL: must be", "TOKEN_METHOD:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ClientCredentials() = %q; want it to say %q", err, want)
		}
	}
}
