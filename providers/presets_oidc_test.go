package providers

import (
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/idp"
)

// msTenant is the Microsoft fixtures' tenant (tid).
const msTenant = "b9419818-09af-49c2-b0c3-653adc1f376e"

// presetOIDCCase runs one OIDC preset against the in-process idp, which
// answers userinfo with testdata/<preset>/userinfo.json and signs ID tokens
// carrying what that provider's ID tokens carry.
type presetOIDCCase struct {
	name, preset string
	// tenant and issuer are TENANT and ISSUER_URL as given to Expand;
	// {base} in issuer is the fake's URL.
	tenant, issuer string
	// fakeIssuer is idp.Options.Issuer ({base} as above); "" is the
	// fake's URL.
	fakeIssuer string
	// tenantID is idp.Options.TenantID, sent as tid.
	tenantID string
	// wantIssuer is the preset's IssuerURL after Expand ({base} as above);
	// wantMultiTenant its MultiTenant.
	wantIssuer      string
	wantMultiTenant bool
	// idToken are the ID token's claims besides iss, sub, aud, exp, iat,
	// nonce and tid, which the fake sets.
	idToken map[string]any
	want    Identity
	// shape, if set, gives the fake more of the provider's shape.
	shape func(*idp.Options)
	// wantLogout, if set, is the end-session URL discovery leads to
	// ({base} as above).
	wantLogout string
	// refresh has the fake issue refresh tokens, and the test refresh:
	// new tokens, a new ID token for the same user, the same identity.
	refresh bool
}

// msIDTokenClaims returns the claims of testdata/microsoft/id_token_claims.json
// the fake does not set itself.
func msIDTokenClaims(t *testing.T) map[string]any {
	t.Helper()
	c := presetFixtureDoc(t, "microsoft", "id_token_claims.json")
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "tid"} {
		delete(c, k)
	}
	return c
}

func TestPresetOIDCEndToEnd(t *testing.T) {
	t.Parallel()
	msNoFlag := msIDTokenClaims(t)
	delete(msNoFlag, "xms_edov")
	tests := []presetOIDCCase{
		{
			name: "google", preset: "google", issuer: "{base}", wantIssuer: "{base}",
			idToken: map[string]any{
				"azp": testClientID, "hd": "example.com",
				"email": "jane@example.com", "email_verified": true,
				"name": "Jane Doe", "given_name": "Jane", "family_name": "Doe",
				"picture": "https://lh3.googleusercontent.com/a/ACg8ocJane=s96-c",
			},
			want: Identity{
				ID: "1101694844743862", Email: "jane@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe",
				Picture:    "https://lh3.googleusercontent.com/a/ACg8ocJane=s96-c",
				Locale:     "en", // userinfo only
				Attributes: map[string]string{"Domain": "example.com"},
			},
		},
		{
			// One tenant: the issuer names it, no {tenantid}.
			name: "microsoft/tenant", preset: "microsoft", tenant: msTenant,
			issuer: "{base}/{tenant}/v2.0", fakeIssuer: "{base}/" + msTenant + "/v2.0", tenantID: msTenant,
			wantIssuer: "{base}/" + msTenant + "/v2.0",
			idToken:    msIDTokenClaims(t),
			want: Identity{
				ID: "00000000-0000-0000-66f3-3332eca7ea81", Email: "mikoll@contoso.com", EmailVerified: presetBool(true),
				Name: "Mikah Ollenburg", GivenName: "Mikah", FamilyName: "Ollenburg",
				Username: "mikoll@contoso.com", Groups: []string{"0b0a5f0c-2a2e-4d6f-8a8a-1f0f3e2c5d77"},
				Picture:    "https://graph.microsoft.com/v1.0/me/photo/$value", // userinfo only
				Attributes: map[string]string{"Tenant": msTenant},
			},
		},
		{
			// organizations: discovery advertises {tenantid}, the token
			// names the user's tenant. Without xms_edov the address has no
			// flag (and Microsoft sends no email_verified).
			name: "microsoft/organizations", preset: "microsoft", tenant: "organizations",
			issuer: "{base}/{tenant}/v2.0", fakeIssuer: "{base}/{tenantid}/v2.0", tenantID: msTenant,
			wantIssuer: "{base}/organizations/v2.0", wantMultiTenant: true,
			idToken: msNoFlag,
			want: Identity{
				ID: "00000000-0000-0000-66f3-3332eca7ea81", Email: "mikoll@contoso.com",
				Name: "Mikah Ollenburg", GivenName: "Mikah", FamilyName: "Ollenburg",
				Username: "mikoll@contoso.com", Groups: []string{"0b0a5f0c-2a2e-4d6f-8a8a-1f0f3e2c5d77"},
				Picture:    "https://graph.microsoft.com/v1.0/me/photo/$value",
				Attributes: map[string]string{"Tenant": msTenant},
			},
		},
		{
			name: "linkedin", preset: "linkedin", issuer: "{base}", wantIssuer: "{base}",
			idToken: map[string]any{
				"email": "user@example.com", "email_verified": true,
				"name": "Example User", "given_name": "Example", "family_name": "User",
				"picture": "https://media.licdn.com/dms/image/C4D03AQExample/profile-displayphoto-shrink_100_100/0/1600000000000",
			},
			want: Identity{
				ID: "vaz8tJ1Aah", Email: "user@example.com", EmailVerified: presetBool(true),
				Name: "Example User", GivenName: "Example", FamilyName: "User",
				Picture: "https://media.licdn.com/dms/image/C4D03AQExample/profile-displayphoto-shrink_100_100/0/1600000000000",
				Locale:  "en", // userinfo's locale object
			},
		},
		{
			// ISSUER_URL with a slash: Expand drops it.
			name: "gitlab", preset: "gitlab", issuer: "{base}/", wantIssuer: "{base}",
			idToken: map[string]any{
				"name": "Jane Doe", "nickname": "jdoe", "preferred_username": "jdoe",
				"email": "jdoe@example.com", "email_verified": true,
				"profile": "https://gitlab.com/jdoe",
				"picture": "https://gitlab.com/uploads/-/system/user/avatar/1234567/avatar.png",
				// The ID token has direct groups only; userinfo has all.
				"groups_direct": []string{"acme"},
			},
			want: Identity{
				ID: "1234567", Email: "jdoe@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", Username: "jdoe",
				Picture: "https://gitlab.com/uploads/-/system/user/avatar/1234567/avatar.png",
				Groups:  []string{"acme", "acme/platform"},
			},
		},
		{
			name: "slack", preset: "slack", issuer: "{base}", wantIssuer: "{base}",
			idToken: map[string]any{
				"https://slack.com/user_id": "U0R7JM", "https://slack.com/team_id": "T0R7GR",
				"email": "krane@slack-corp.com", "email_verified": true, "date_email_verified": 1622128723,
				"name": "krane", "locale": "en-US",
			},
			want: Identity{
				ID: "U0R7JM", Email: "krane@slack-corp.com", EmailVerified: presetBool(true),
				Name: "krane", GivenName: "Bront", FamilyName: "Labradoodle",
				Picture: "https://secure.gravatar.com/avatar/bc5b1c1e8a1a7d8c7e0b1c0e0c3a1b0e.jpg?s=512",
				Locale:  "en-US", Attributes: map[string]string{"Team": "T0R7GR"},
			},
		},
		{
			name: "keycloak", preset: "keycloak",
			issuer: "{base}/realms/acme/", fakeIssuer: "{base}/realms/acme", wantIssuer: "{base}/realms/acme",
			idToken: map[string]any{
				"typ": "ID", "azp": testClientID, "sid": "5e8f3c1a-0d1b-4c47-9f5e-2a7b3c4d5e6f",
				"email": "jdoe@example.com", "email_verified": true,
				"name": "Jane Doe", "preferred_username": "jdoe", "given_name": "Jane", "family_name": "Doe",
			},
			want: Identity{
				ID: "0b8c5e2a-5f0e-4a39-9c1d-3c2f6b7a9e10", Email: "jdoe@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe", Username: "jdoe",
				Groups: []string{"/engineering", "/engineering/platform"}, // userinfo's mapper
			},
		},
		{
			// ISSUER_URL without the slash: Expand adds Auth0's.
			name: "auth0", preset: "auth0", issuer: "{base}", fakeIssuer: "{base}/", wantIssuer: "{base}/",
			idToken: map[string]any{
				"nickname": "jdoe", "name": "Jane Doe",
				"picture":    "https://s.gravatar.com/avatar/5f4dcc3b5aa765d61d8327deb882cf99?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png",
				"updated_at": "2025-01-01T00:00:00.000Z",
				"email":      "jdoe@example.com", "email_verified": true, "sid": "Hk2c6bEjVZbq1Xr3nN0Yx",
			},
			want: Identity{
				ID: "auth0|64f1c2a9b0e4d3c2b1a09f87", Email: "jdoe@example.com", EmailVerified: presetBool(true),
				Name:    "Jane Doe", // nickname is not the username
				Picture: "https://s.gravatar.com/avatar/5f4dcc3b5aa765d61d8327deb882cf99?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com%2Favatars%2Fjd.png",
			},
		},
		{
			// A custom authorization server; ID token and userinfo have
			// no uid, so the id is sub.
			name: "okta", preset: "okta", refresh: true,
			issuer: "{base}/oauth2/default", fakeIssuer: "{base}/oauth2/default", wantIssuer: "{base}/oauth2/default",
			idToken: map[string]any{
				"ver": 1, "jti": "ID.4eAWJOCMB3SX8XewDfVR", "amr": []string{"pwd"}, "idp": "00o1a2b3c4",
				"auth_time": 1735689600, "name": "Jane Doe", "email": "jane.doe@example.com",
				"preferred_username": "jane.doe@example.com",
			},
			want: Identity{
				ID: "00u1ab2cd3EF4gh5ij6k", Email: "jane.doe@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", GivenName: "Jane", FamilyName: "Doe", Username: "jane.doe@example.com",
				Locale: "de-DE", Groups: []string{"Everyone", "Engineering"},
			},
		},
		{
			// Cognito's discovery lists no end_session_endpoint: its
			// /logout is on the authorization endpoint's host.
			name: "cognito", preset: "cognito", refresh: true,
			issuer: "{base}/eu-west-1_aBcDeFgHi", fakeIssuer: "{base}/eu-west-1_aBcDeFgHi", wantIssuer: "{base}/eu-west-1_aBcDeFgHi",
			idToken: func() map[string]any {
				c := presetFixtureDoc(t, "cognito", "id_token_claims.json")
				for _, k := range []string{"iss", "sub", "aud", "exp", "iat"} {
					delete(c, k)
				}
				return c
			}(),
			shape: func(o *idp.Options) {
				o.Discovery = func(doc map[string]any) {
					delete(doc, "end_session_endpoint")
					delete(doc, "introspection_endpoint")
				}
			},
			wantLogout: "{base}/logout",
			want: Identity{
				ID: "94a8d4c8-1071-70d6-4b37-1a2b3c4d5e6f", Email: "jane@example.com", EmailVerified: presetBool(true),
				Name: "Jane Doe", Username: "jane", Groups: []string{"admins", "staff"},
			},
		},
		{
			// Gitea's issuer is its ROOT_URL, with the slash; the ID
			// token carries email_verified (only ever true), userinfo
			// the groups too.
			name: "gitea", preset: "gitea", refresh: true, issuer: "{base}/", fakeIssuer: "{base}/", wantIssuer: "{base}/",
			idToken: map[string]any{
				"name": "Jane Doe", "preferred_username": "jdoe", "profile": "https://git.example.com/jdoe",
				"picture": "https://git.example.com/avatars/9b2f4e6c1d8a7b3e5f0c2d4a6b8e1f3a", "locale": "en-US",
				"updated_at": 1735689600, "email": "jdoe@example.com", "email_verified": true,
			},
			want: Identity{
				ID: "42", Email: "jdoe@example.com", EmailVerified: presetBool(true), Name: "Jane Doe", Username: "jdoe",
				Picture: "https://git.example.com/avatars/9b2f4e6c1d8a7b3e5f0c2d4a6b8e1f3a", Locale: "en-US",
				Groups: []string{"acme", "acme:owners", "acme:platform"},
			},
		},
	}
	// Every OIDC preset with a provider of its own is covered.
	covered := map[string]bool{"apple": true} // no userinfo: TestAppleEndToEnd
	for _, tc := range tests {
		covered[tc.preset] = true
	}
	for _, name := range PresetNames() {
		if p, _ := LookupPreset(name); p.Kind == KindOIDC && name != "oidc" && !covered[name] {
			t.Errorf("OIDC preset %s has no end-to-end case", name)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runPresetOIDC(t, tc)
		})
	}
}

func runPresetOIDC(t *testing.T, tc presetOIDCCase) {
	p, ok := LookupPreset(tc.preset)
	if !ok || p.Kind != KindOIDC {
		t.Fatalf("LookupPreset(%q) = %v, kind %v; want an oidc preset", tc.preset, ok, p.Kind)
	}
	if !slices.Contains(p.Scopes, "openid") {
		t.Errorf("preset scopes %q lack openid", p.Scopes)
	}

	// The fake's URL is known before it serves: the issuer needs it.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	sub := func(s string) string { return strings.ReplaceAll(s, "{base}", base) }

	userinfo := presetFixture(t, tc.preset, "userinfo.json")
	var uiDoc struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal([]byte(userinfo), &uiDoc); err != nil || uiDoc.Sub == "" {
		t.Fatalf("%s/userinfo.json: sub %q, %v", tc.preset, uiDoc.Sub, err)
	}
	opts := idp.Options{
		ClientID: testClientID, ClientSecret: testClientSecret,
		OIDC: true, AutoApprove: "alice",
		Users:       []idp.User{{ID: uiDoc.Sub, Username: "alice"}},
		Userinfo:    func(idp.User) any { return json.RawMessage(userinfo) },
		Issuer:      sub(tc.fakeIssuer),
		TenantID:    tc.tenantID,
		RequirePKCE: p.PKCE,
		// The provider's userinfo method.
		UserinfoMethod: p.UserinfoMethod,
		IDTokenClaims: func(c map[string]any) {
			for k := range c {
				switch k {
				case "iss", "sub", "aud", "exp", "iat", "nonce", "tid":
				default:
					delete(c, k) // the fake's own preferred_username etc.
				}
			}
			maps.Copy(c, tc.idToken)
		},
	}
	switch p.TokenAuthStyle {
	case AuthStyleParams:
		opts.ClientAuth = "body" // refuse Basic: the preset pins params
	case AuthStyleHeader:
		opts.ClientAuth = "basic" // and the other way round
	}
	if tc.shape != nil {
		tc.shape(&opts)
	}
	opts.IssueRefreshTokens = tc.refresh
	if err := opts.Validate(); err != nil {
		t.Fatalf("idp Validate() = %v", err)
	}
	srv.Config.Handler = idp.New(opts)
	srv.Start()
	t.Cleanup(srv.Close)

	// As main builds it.
	settings := Settings{
		ID: tc.preset, Preset: tc.preset, Tenant: tc.tenant, IssuerURL: sub(tc.issuer),
		ClientID: testClientID, ClientSecret: testClientSecret, RedirectURL: presetRedirect,
	}
	r, err := Resolve(settings)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got, want := r.Preset.IssuerURL, sub(tc.wantIssuer); got != want || r.IssuerURL != want {
		t.Errorf("Resolve IssuerURL = %q (preset %q); want %q", r.IssuerURL, got, want)
	}
	if r.Preset.MultiTenant != tc.wantMultiTenant {
		t.Errorf("Expand MultiTenant = %v; want %v", r.Preset.MultiTenant, tc.wantMultiTenant)
	}
	if r.AuthURL != "" || r.TokenURL != "" || r.UserinfoURL != "" {
		t.Errorf("Resolve set endpoints %q, %q, %q; want them left to discovery", r.AuthURL, r.TokenURL, r.UserinfoURL)
	}
	b, err := Build(settings, BuildOptions{Transport: srv.Client().Transport})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	prov := b.Discovery
	if prov == nil || b.Provider != Provider(prov) {
		t.Fatalf("Build: Discovery %v, Provider %T; want the OIDC provider as both", prov, b.Provider)
	}
	if b.PKCE != p.PKCE {
		t.Errorf("Build PKCE = %v; want the preset's %v", b.PKCE, p.PKCE)
	}
	if err := prov.Discover(t.Context()); err != nil {
		t.Fatalf("Discover() = %v; want nil", err)
	}
	if got := prov.Endpoints().UserinfoURL; got != base+"/userinfo" {
		t.Errorf("userinfo endpoint = %q; want the discovered %s/userinfo", got, base)
	}
	if !prov.UsesNonce() {
		t.Error("UsesNonce() = false; want true")
	}
	if got, want := prov.LogoutURL(), sub(tc.wantLogout); tc.wantLogout != "" && got != want {
		t.Errorf("LogoutURL() = %q; want %q", got, want)
	}

	nonce := rand.Text()
	authOpts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", nonce)}
	var exchOpts []oauth2.AuthCodeOption
	if p.PKCE {
		v := oauth2.GenerateVerifier()
		authOpts = append(authOpts, oauth2.S256ChallengeOption(v))
		exchOpts = append(exchOpts, oauth2.VerifierOption(v))
	}
	authURL := prov.AuthCodeURL("state-"+tc.preset, authOpts...)
	au, err := url.Parse(authURL)
	if err != nil || authURL == "" {
		t.Fatalf("AuthCodeURL() = %q, %v", authURL, err)
	}
	q := au.Query()
	if scopes := strings.Fields(q.Get("scope")); !slices.Equal(scopes, p.Scopes) {
		t.Errorf("AuthCodeURL scope = %q; want the preset's %q", scopes, p.Scopes)
	}
	if q.Has("code_challenge") != p.PKCE {
		t.Errorf("AuthCodeURL code_challenge present = %v; want %v (preset PKCE)", q.Has("code_challenge"), p.PKCE)
	}

	loc := followAuthorize(t, srv, authURL)
	if got := loc.Query().Get("state"); got != "state-"+tc.preset {
		t.Errorf("callback state = %q; want state-%s", got, tc.preset)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("authorize redirected to %s; want a code", loc)
	}
	tok, err := prov.Exchange(t.Context(), code, exchOpts...)
	if err != nil {
		t.Fatalf("Exchange() = %v; want nil", err)
	}
	if tok.IDToken == "" {
		t.Fatal("Exchange gave no IDToken")
	}

	// Another nonce than the one sent is refused.
	wrong := *tok
	wrong.Nonce = nonce + "x"
	if _, err := prov.Identify(t.Context(), &wrong); err == nil {
		t.Error("Identify with another nonce = nil error; want a rejection")
	}

	tok.Nonce = nonce
	id, err := prov.Identify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Identify() = %v; want nil", err)
	}
	checkPresetIdentity(t, id, tc.want)
	if !tc.refresh {
		return
	}
	nt, err := prov.Refresh(t.Context(), tok)
	if err != nil || nt.AccessToken == tok.AccessToken || nt.IDToken == "" || nt.IDToken == tok.IDToken {
		t.Fatalf("Refresh() = %+v, %v; want new access and ID tokens", nt, err)
	}
	id, err = prov.Identify(t.Context(), nt)
	if err != nil {
		t.Fatalf("Identify(refreshed) = %v; want nil", err)
	}
	checkPresetIdentity(t, id, tc.want)
}
