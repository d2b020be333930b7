package providers

import "net/url"

// presetRedirectURI is the redirect URI every console must list, in the
// words the Console texts use.
const presetRedirectURI = "https://<your host>/oauth2/callback (PUBLIC_URL + /oauth2/callback, or REDIRECT_URL)"

// presets is the table behind LookupPreset. It is never modified;
// LookupPreset hands out copies.
var presets = []Preset{
	{
		Name:                 "oauth2",
		Kind:                 KindOAuth2,
		PKCE:                 true,
		EmailVerifiedDefault: true,
		Console:              "Register a confidential web client at the provider with the redirect URI " + presetRedirectURI + "; set AUTH_URL, TOKEN_URL and USERINFO_URL from its documentation, and SCOPES and the CLAIM_* paths to match its userinfo answer.",
		Needs:                []string{"AUTH_URL", "TOKEN_URL", "USERINFO_URL"},
	},
	{
		Name:                 "oidc",
		Kind:                 KindOIDC,
		Scopes:               []string{"openid", "email", "profile"},
		PKCE:                 true,
		EmailVerifiedDefault: true,
		Console:              "Register a confidential web client (authorization code flow) with the redirect URI " + presetRedirectURI + " and scopes openid email profile; set ISSUER_URL to the issuer whose /.well-known/openid-configuration the provider publishes.",
		Needs:                []string{"ISSUER_URL"},
	},
	{
		Name:        "google",
		DisplayName: "Google",
		Kind:        KindOIDC,
		IssuerURL:   "https://accounts.google.com",
		AuthURL:     "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:    "https://oauth2.googleapis.com/token",
		UserinfoURL: "https://openidconnect.googleapis.com/v1/userinfo",
		RevokeURL:   "https://oauth2.googleapis.com/revoke",
		// Google has no introspection; tokeninfo names the client.
		TokenCheck:         CheckGoogle,
		IntrospectionURL:   GoogleTokenInfoURL,
		OpaqueAccessTokens: true,
		Scopes:             []string{"openid", "email", "profile"},
		TokenAuthStyle:     AuthStyleParams, // as x/oauth2's google package pins it
		PKCE:               true,
		Claims: Claims{
			Attributes: []Attribute{{Name: "Domain", Paths: []string{"hd"}}}, // Workspace domain
		},
		EmailVerifiedDefault: true,
		Console:              "Google Cloud Console › APIs & Services: configure the OAuth consent screen (scopes openid, email, profile), then Credentials › Create credentials › OAuth client ID › Web application, and add " + presetRedirectURI + " under Authorized redirect URIs (exact match, HTTPS except localhost).",
	},
	{
		Name:        "github",
		DisplayName: "GitHub",
		Kind:        KindGitHub,
		AuthURL:     "https://github.com/login/oauth/authorize",
		TokenURL:    "https://github.com/login/oauth/access_token",
		// /emails, /orgs and /teams are read below this URL (NewGitHub),
		// and tokens are checked beside it, at
		// /applications/{client_id}/token.
		UserinfoURL:    "https://api.github.com/user",
		TokenCheck:     CheckGitHub,
		Scopes:         []string{"read:user", "user:email"},
		TokenAuthStyle: AuthStyleParams,
		PKCE:           true, // supported since 2025-07-14
		Claims: Claims{
			ID:       []string{"id"},
			Username: []string{"login"},
			Picture:  []string{"avatar_url"},
		},
		EmailVerifiedDefault: false,
		Console:              "GitHub › Settings › Developer settings › OAuth Apps › New OAuth App (or an organisation's settings): Authorization callback URL " + presetRedirectURI + "; one callback URL per app. Add the read:org scope (SCOPES=read:user,user:email,read:org) for organisations and teams as groups. GitHub Enterprise Server: AUTH_URL and TOKEN_URL on https://HOST/login/oauth/…, USERINFO_URL=https://HOST/api/v3/user.",
	},
	{
		Name:        "microsoft",
		DisplayName: "Microsoft",
		Kind:        KindOIDC,
		IssuerURL:   "https://login.microsoftonline.com/{tenant}/v2.0",
		MultiTenant: true,
		AuthURL:     "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
		TokenURL:    "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
		UserinfoURL: "https://graph.microsoft.com/oidc/userinfo",
		LogoutURL:   "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/logout",
		// An access token for this app names the permissions it grants.
		AccessTokenClaims: []string{"scp", "roles"},
		Scopes:            []string{"openid", "profile", "email", "offline_access"},
		TokenAuthStyle:    AuthStyleParams,
		PKCE:              true,
		Claims: Claims{
			// oid is the user's object id, the same in every app of the
			// tenant; sub is pairwise per app. Both are ID-token claims.
			ID:            []string{"oid", "sub"},
			EmailVerified: []string{"xms_edov"},
			Attributes:    []Attribute{{Name: "Tenant", Paths: []string{"tid"}}},
		},
		EmailVerifiedDefault: false,
		Console:              "Microsoft Entra admin center › App registrations › New registration: supported account types matching TENANT; Authentication › Add a platform › Web › Redirect URI " + presetRedirectURI + " (HTTPS except localhost, case-sensitive); Certificates & secrets › New client secret. Token configuration › Add optional claim › ID: xms_edov and email (without xms_edov every address counts as unverified); add a groups claim for ALLOWED_GROUPS (object ids).",
	},
	{
		Name:           "facebook",
		DisplayName:    "Facebook",
		Kind:           KindFacebook,
		AuthURL:        "https://www.facebook.com/v25.0/dialog/oauth",
		TokenURL:       "https://graph.facebook.com/v25.0/oauth/access_token",
		UserinfoURL:    "https://graph.facebook.com/v25.0/me",
		TokenCheck:     CheckFacebook, // /v25.0/debug_token, beside USERINFO_URL
		Scopes:         []string{"email", "public_profile"},
		TokenAuthStyle: AuthStyleParams,
		UserinfoParams: url.Values{"fields": {"id,name,email,first_name,last_name,picture"}},
		PKCE:           false,
		Claims: Claims{
			ID:         []string{"id"},
			GivenName:  []string{"first_name"},
			FamilyName: []string{"last_name"},
			Picture:    []string{"picture.data.url"},
		},
		EmailVerifiedDefault: true,
		Console:              "Meta for Developers › My Apps › Create app › add the Facebook Login product; Facebook Login › Settings › Valid OAuth Redirect URIs: " + presetRedirectURI + " (strict exact match, Enforce HTTPS on); permissions email and public_profile. Switch the app to Live for users who are not testers.",
	},
	{
		Name:           "linkedin",
		DisplayName:    "LinkedIn",
		Kind:           KindOIDC,
		IssuerURL:      "https://www.linkedin.com/oauth",
		AuthURL:        "https://www.linkedin.com/oauth/v2/authorization",
		TokenURL:       "https://www.linkedin.com/oauth/v2/accessToken",
		UserinfoURL:    "https://api.linkedin.com/v2/userinfo",
		Scopes:         []string{"openid", "profile", "email"},
		TokenAuthStyle: AuthStyleParams,
		PKCE:           false,
		Claims: Claims{
			// locale is an object {country, language} in LinkedIn's answer.
			Locale: []string{"locale", "locale.language"},
		},
		EmailVerifiedDefault: true,
		Console:              "LinkedIn Developers › Create app › Products: add \"Sign In with LinkedIn using OpenID Connect\" (not the retired r_liteprofile/r_emailaddress product); Auth › Authorized redirect URLs for your app: " + presetRedirectURI + " (absolute, no #).",
	},
	{
		Name:           "gitlab",
		DisplayName:    "GitLab",
		Kind:           KindOIDC,
		IssuerURL:      "https://gitlab.com",
		AuthURL:        "{issuer}/oauth/authorize",
		TokenURL:       "{issuer}/oauth/token",
		UserinfoURL:    "{issuer}/oauth/userinfo",
		RevokeURL:      "{issuer}/oauth/revoke",
		Scopes:         []string{"openid", "profile", "email"},
		TokenAuthStyle: AuthStyleParams,
		PKCE:           true,
		Claims: Claims{
			Username: []string{"preferred_username", "nickname"},
		},
		EmailVerifiedDefault: true,
		Console:              "GitLab › User settings (or Group / Admin area) › Applications › Add new application: Redirect URI " + presetRedirectURI + ", Confidential ticked, scopes openid, profile, email. Self-managed: ISSUER_URL=https://gitlab.example.com.",
	},
	{
		Name:           "slack",
		DisplayName:    "Slack",
		Kind:           KindOIDC,
		IssuerURL:      "https://slack.com",
		AuthURL:        "https://slack.com/openid/connect/authorize",
		TokenURL:       "https://slack.com/api/openid.connect.token",
		UserinfoURL:    "https://slack.com/api/openid.connect.userInfo",
		UserinfoMethod: "POST",
		Scopes:         []string{"openid", "email", "profile"},
		TokenAuthStyle: AuthStyleParams,
		PKCE:           false,
		Claims: Claims{
			Attributes: []Attribute{{Name: "Team", Paths: []string{"https://slack.com/team_id"}}},
		},
		EmailVerifiedDefault: true,
		Console:              "api.slack.com/apps › Create New App › OAuth & Permissions: Redirect URLs " + presetRedirectURI + " (HTTPS); User Token Scopes openid, email, profile.",
	},
	{
		Name:             "fitbit",
		DisplayName:      "Fitbit",
		Kind:             KindOAuth2,
		AuthURL:          "https://www.fitbit.com/oauth2/authorize",
		TokenURL:         "https://api.fitbit.com/oauth2/token",
		UserinfoURL:      "https://api.fitbit.com/1/user/-/profile.json",
		RevokeURL:        "https://api.fitbit.com/oauth2/revoke",
		Scopes:           []string{"profile"},
		TokenAuthStyle:   AuthStyleHeader, // Basic is required for server apps
		TokenUserIDField: "user_id",
		PKCE:             true,
		Claims: Claims{
			ID:         []string{"user.encodedId"},
			Name:       []string{"user.fullName"},
			GivenName:  []string{"user.firstName"},
			FamilyName: []string{"user.lastName"},
			Username:   []string{"user.displayName"},
			Picture:    []string{"user.avatar"},
			Locale:     []string{"user.locale"},
		},
		EmailVerifiedDefault: false,
		Deprecated:           "the fitbit preset is deprecated: Google switched the legacy Fitbit Web API and its OAuth endpoints off in early November 2026 (2026-10-30 or 2026-11-02, Google's two notices disagree; support ended 2026-09-30); sign-ins will fail. Its successor, the Google Health API, signs in with Google accounts: use the google preset",
		Console:              "dev.fitbit.com › Manage › Register an app (no longer possible after the shutdown): OAuth 2.0 Application Type Server, Redirect URL " + presetRedirectURI + " (exact match).",
	},
	{
		Name:        "mercadolibre",
		DisplayName: "Mercado Libre",
		Kind:        KindOAuth2,
		// The authorization host is per country: auth.mercadolibre.com.ar
		// (AR), .com.mx, .cl, .com.co, …; Brazil auth.mercadolivre.com.br.
		AuthURL:          "https://auth.mercadolibre.com.ar/authorization",
		TokenURL:         "https://api.mercadolibre.com/oauth/token",
		UserinfoURL:      "https://api.mercadolibre.com/users/me",
		Scopes:           []string{"offline_access", "read"},
		TokenAuthStyle:   AuthStyleParams,
		TokenUserIDField: "user_id",
		PKCE:             false,
		Claims: Claims{
			ID: []string{"id"},
			// The name is first_name + last_name; nickname is the
			// username (PROVIDERS.md).
			Name:       []string{"first_name+last_name"},
			GivenName:  []string{"first_name"},
			FamilyName: []string{"last_name"},
			Username:   []string{"nickname"},
			Attributes: []Attribute{{Name: "Country", Paths: []string{"country_id"}}},
		},
		EmailVerifiedDefault: true,
		Console:              "Mercado Libre DevCenter (developers.mercadolibre.com.ar, or your country's) › Create application: Redirect URI " + presetRedirectURI + " (HTTPS only, exact match, localhost refused: use a .test host or a tunnel); tick Refresh Token (offline_access) and read. If you tick PKCE there, set PKCE=true: it is then mandatory.",
	},
	{
		Name:                "wechat",
		DisplayName:         "WeChat",
		Kind:                KindOAuth2,
		AuthURL:             "https://open.weixin.qq.com/connect/qrconnect#wechat_redirect",
		TokenURL:            "https://api.weixin.qq.com/sns/oauth2/access_token",
		RefreshURL:          "https://api.weixin.qq.com/sns/oauth2/refresh_token",
		UserinfoURL:         "https://api.weixin.qq.com/sns/userinfo",
		Scopes:              []string{"snsapi_login"},
		TokenMethod:         "GET",
		ClientIDParam:       "appid",
		ClientSecretParam:   "secret",
		UserinfoToken:       "query",
		UserinfoParams:      url.Values{"lang": {"en"}},
		TokenUserIDField:    "openid",
		UserinfoUserIDParam: "openid",
		PKCE:                false,
		Claims: Claims{
			// unionid is stable across the Open Platform account's apps;
			// openid is per app. No e-mail: never map unionid to it.
			ID:      []string{"unionid", "openid"},
			Name:    []string{"nickname"},
			Picture: []string{"headimgurl"},
		},
		EmailVerifiedDefault: false,
		Console:              "open.weixin.qq.com (WeChat Open Platform) › Management Center › Website Application: create and get it approved; set the authorised callback domain to your host alone (a domain, not a URL: the redirect URI " + presetRedirectURI + " must be on it). CLIENT_ID is the AppID, CLIENT_SECRET the AppSecret.",
	},
	{
		Name:        "keycloak",
		DisplayName: "Keycloak",
		Kind:        KindOIDC,
		AuthURL:     "{issuer}/protocol/openid-connect/auth",
		TokenURL:    "{issuer}/protocol/openid-connect/token",
		UserinfoURL: "{issuer}/protocol/openid-connect/userinfo",
		RevokeURL:   "{issuer}/protocol/openid-connect/revoke",
		LogoutURL:   "{issuer}/protocol/openid-connect/logout",
		Scopes:      []string{"openid", "email", "profile"},
		PKCE:        true,
		// Groups need a Group Membership mapper; the default path "groups"
		// reads it.
		EmailVerifiedDefault: true,
		Console:              "Keycloak admin console › your realm › Clients › Create client: OpenID Connect, Client authentication on, Standard flow; Valid redirect URIs " + presetRedirectURI + " (exact, avoid *), Valid post logout redirect URIs your sign-out targets. Client scopes › <client>-dedicated › Add mapper › Group Membership (token claim name groups, Add to userinfo) for ALLOWED_GROUPS. ISSUER_URL is the realm URL, https://HOST/realms/REALM (before Keycloak 17: https://HOST/auth/realms/REALM).",
		Needs:                []string{"ISSUER_URL"},
	},
	{
		Name:                "auth0",
		DisplayName:         "Auth0",
		Kind:                KindOIDC,
		IssuerTrailingSlash: true,
		AuthURL:             "{issuer}/authorize",
		TokenURL:            "{issuer}/oauth/token",
		UserinfoURL:         "{issuer}/userinfo",
		RevokeURL:           "{issuer}/oauth/revoke",
		LogoutURL:           "{issuer}/oidc/logout",
		Scopes:              []string{"openid", "profile", "email", "offline_access"},
		PKCE:                true,
		// Auth0's nickname is not unique (by default an address's local
		// part), so it is not the username; set CLAIM_USERNAME=nickname to
		// use it anyway.
		EmailVerifiedDefault: true,
		Console:              "Auth0 Dashboard › Applications › Create Application › Regular Web Application: Allowed Callback URLs " + presetRedirectURI + ", Allowed Logout URLs your sign-out targets; Advanced Settings › Grant Types: Authorization Code and Refresh Token (for sessions that outlive the access token). ISSUER_URL is https://TENANT.REGION.auth0.com/ or your custom domain.",
		Needs:                []string{"ISSUER_URL"},
	},
	{
		// Okta: developer.okta.com/docs/reference/api/oidc (endpoints,
		// /introspect: answers name the client in client_id, and carry
		// the access token's claims), .../guides/validate-access-tokens
		// ("access tokens from the org authorization server … shouldn't be
		// consumed or validated by any app other than Okta": opaque to
		// us), .../guides/refresh-tokens (offline_access and the Refresh
		// Token grant type). Two kinds of issuer: the org authorization
		// server https://{domain} (endpoints /oauth2/v1/…) and custom
		// ones https://{domain}/oauth2/{id} (endpoints /v1/…), so every
		// endpoint, introspection and end-session included, comes from
		// discovery.
		Name:        "okta",
		DisplayName: "Okta",
		Kind:        KindOIDC,
		// Access tokens name the user in uid (their sub is the user's
		// login); ID tokens, userinfo and introspection answers about
		// ID tokens have no uid, their sub is the id.
		Scopes:         []string{"openid", "email", "profile", "offline_access"},
		TokenAuthStyle: AuthStyleHeader, // client_secret_basic, a web app's default
		IntrospectJWTs: true,
		// Okta introspects ID and refresh tokens too, and says they are
		// active and this client's: an access token JWT carries cid
		// (the client) and scp, an ID token neither; an answer about an
		// access token carries its jti, one about a refresh token (an
		// opaque string) none.
		AccessTokenClaims:  []string{"cid", "scp"},
		IntrospectedClaims: []string{"jti"},
		PKCE:               true,
		Claims: Claims{
			ID: []string{"uid", "sub"},
		},
		// Groups need a groups claim (default path "groups").
		EmailVerifiedDefault: true,
		Console:              "Okta Admin Console › Applications › Create App Integration › OIDC - OpenID Connect › Web Application: Grant type Authorization Code and Refresh Token; Sign-in redirect URIs " + presetRedirectURI + "; Sign-out redirect URIs your sign-out targets; assign the users or groups. For ALLOWED_GROUPS add a groups claim: with the org authorization server, the app's Sign On tab › OpenID Connect ID Token › Groups claim filter groups, Matches regex .*; with a custom one, its Claims › Add Claim groups (ID Token, Always, Groups filter). ISSUER_URL is https://YOUR-ORG.okta.com (org authorization server) or https://YOUR-ORG.okta.com/oauth2/default (custom), exactly as its discovery document's issuer.",
		Needs:                []string{"ISSUER_URL"},
	},
	{
		// Amazon Cognito user pools: docs.aws.amazon.com/cognito/latest/
		// developerguide/federation-endpoints.html (the issuer
		// https://cognito-idp.{region}.amazonaws.com/{userPoolId} and its
		// discovery, whose authorize, token, userInfo and revoke endpoints
		// are on the user pool's domain once it has one),
		// logout-endpoint.html (GET /logout on that domain with client_id
		// and logout_uri, one of the app client's allowed sign-out URLs;
		// discovery lists no end_session_endpoint),
		// userinfo-endpoint.html (email_verified as the string "true"),
		// amazon-cognito-user-pools-using-the-id-token.html and
		// -access-token.html (ID tokens: aud, token_use id,
		// cognito:username, cognito:groups; access tokens: no aud,
		// client_id, token_use access, username, cognito:groups),
		// token-endpoint.html (Basic client authentication; refresh
		// tokens with every authorization-code grant, no offline_access
		// scope). No introspection: access tokens are JWTs, checked
		// against the JWKS.
		Name:        "cognito",
		DisplayName: "Amazon Cognito",
		Kind:        KindOIDC,
		// phone is a scope of its own; offline_access is not a Cognito
		// scope (an unknown scope fails the sign-in).
		Scopes:              []string{"openid", "email", "profile"},
		TokenAuthStyle:      AuthStyleHeader,
		PKCE:                true,
		ClientIDClaim:       "client_id",
		LogoutPath:          "/logout",
		LogoutRedirectParam: "logout_uri",
		Claims: Claims{
			// cognito:username in ID tokens, username in access tokens
			// and userinfo: the user pool's user name (for a federated
			// user, PROVIDER_id), immutable; preferred_username is an
			// attribute the user may change.
			Username: []string{"cognito:username", "username"},
			Groups:   []string{"cognito:groups"},
		},
		EmailVerifiedDefault: true,
		Console:              "AWS console › Amazon Cognito › User pools › your pool: Domain (a Cognito domain or your own) › App integration › App clients › Create app client: Traditional web application, client secret generated; Allowed callback URLs " + presetRedirectURI + ", Allowed sign-out URLs your sign-out targets (PUBLIC_URL + / by default), OAuth grant types Authorization code grant, OpenID Connect scopes openid, email, profile. Groups (User pools › Groups) arrive as cognito:groups. ISSUER_URL is https://cognito-idp.REGION.amazonaws.com/USER_POOL_ID.",
		Needs:                []string{"ISSUER_URL"},
	},
	{
		// Gitea and Forgejo: docs.gitea.com/development/oauth2-provider
		// and forgejo.org/docs/latest/user/oauth2-provider (endpoints
		// below ROOT_URL /login/oauth/…, scopes openid profile email
		// groups, PKCE, refresh tokens with every grant). From their
		// source (routers/web/auth/oauth2_provider.go,
		// services/oauth2_provider): the discovery document's issuer is
		// ROOT_URL as the instance writes it (with its trailing slash);
		// email_verified is sent only when true; groups are the user's
		// organisations and "org:team"s; access and refresh tokens are
		// JWTs without iss, aud or sub ({gnt, tt, exp, iat}), which only
		// introspection (Basic client authentication) ties to a client,
		// by aud. No revocation, no end-session endpoint.
		Name:           "gitea",
		DisplayName:    "Gitea",
		Kind:           KindOIDC,
		Scopes:         []string{"openid", "email", "profile", "groups"},
		PKCE:           true,
		IntrospectJWTs: true,
		// Its introspection answers about refresh tokens as about
		// access tokens: the JWT's own tt (0 access, 1 refresh; signed,
		// and the signature is what introspection checks) tells them
		// apart.
		TokenKindClaim:  "tt",
		AccessTokenKind: "0",
		// Gitea leaves email_verified out when it is false: an address
		// without the flag is not vouched for.
		EmailVerifiedDefault: false,
		Console:              "Gitea or Forgejo › Settings (or Site Administration, or an organisation's settings) › Applications › Manage OAuth2 Applications › Create: Redirect URIs " + presetRedirectURI + ", Confidential client ticked. ISSUER_URL is the instance's ROOT_URL exactly as its /.well-known/openid-configuration writes issuer (Gitea: https://git.example.com/, with the slash). The instance must sign with an asymmetric [oauth2] JWT_SIGNING_ALGORITHM (RS256, the default; HS* ID tokens are refused).",
		Needs:                []string{"ISSUER_URL"},
	},
	{
		// Bitbucket Cloud: developer.atlassian.com/cloud/bitbucket/oauth-2
		// (authorize and access_token on bitbucket.org, client
		// authentication with HTTP Basic, access tokens of two hours,
		// refresh tokens single use; scopes are the consumer's permissions,
		// not requested), .../rest/api-group-users ("Get current user":
		// uuid in braces, account_id, nickname, display_name,
		// links.avatar.href, no e-mail; "List email addresses for current
		// user": is_primary, is_confirmed, paginated with next), the May
		// 2026 changes (rotating refresh tokens; access tokens in the
		// Authorization header only). No PKCE, no revocation, no
		// introspection: nothing tells whose an access token is.
		Name:           "bitbucket",
		DisplayName:    "Bitbucket",
		Kind:           KindBitbucket,
		AuthURL:        "https://bitbucket.org/site/oauth2/authorize",
		TokenURL:       "https://bitbucket.org/site/oauth2/access_token",
		UserinfoURL:    "https://api.bitbucket.org/2.0/user",
		TokenAuthStyle: AuthStyleHeader,
		PKCE:           false,
		Claims: Claims{
			// uuid ({…}) is the Bitbucket account; account_id, the
			// Atlassian account, is kept as an attribute.
			ID:         []string{"uuid"},
			Name:       []string{"display_name"},
			Username:   []string{"username", "nickname"},
			Picture:    []string{"links.avatar.href"},
			Attributes: []Attribute{{Name: "Account-Id", Paths: []string{"account_id"}}},
		},
		// The flag is per address, from /user/emails (NewBitbucket).
		EmailVerifiedDefault: false,
		Console:              "Bitbucket › a workspace › Settings › Apps and features › OAuth consumers › Add consumer: Callback URL " + presetRedirectURI + " (requests may name it or a URL below it); This is a private consumer unticked unless you want only your workspace; Permissions Account Read and Email (the e-mail address). The Key is CLIENT_ID, the Secret CLIENT_SECRET.",
	},
	{
		// Discord: discord.com/developers/docs/topics/oauth2 (authorize on
		// discord.com, token and token/revoke under the API, client
		// authentication with HTTP Basic, scopes identify and email,
		// access tokens of 7 days with rotating refresh tokens; "get
		// current authorization information", GET /oauth2/@me: the
		// application a token was issued to), .../resources/user (the
		// user object: id, a snowflake, as a string; username, unique but
		// changeable; global_name, the display name; email and verified),
		// .../reference#api-versioning (v10; an unversioned URL gets the
		// deprecated default). PKCE: S256 only, a verifier of 43+
		// characters (discord/discord-api-docs#5254, #7046).
		Name:        "discord",
		DisplayName: "Discord",
		Kind:        KindOAuth2,
		AuthURL:     "https://discord.com/oauth2/authorize",
		TokenURL:    "https://discord.com/api/v10/oauth2/token",
		UserinfoURL: "https://discord.com/api/v10/users/@me",
		RevokeURL:   "https://discord.com/api/v10/oauth2/token/revoke",
		// …/oauth2/@me beside USERINFO_URL names the token's application.
		TokenCheck:     CheckDiscord,
		Scopes:         []string{"identify", "email"},
		TokenAuthStyle: AuthStyleHeader,
		PKCE:           true,
		Claims: Claims{
			ID:            []string{"id"},
			Name:          []string{"global_name", "username"},
			Username:      []string{"username"},
			EmailVerified: []string{"verified"},
		},
		// verified comes with every address (email scope).
		EmailVerifiedDefault: false,
		Console:              "Discord Developer Portal › Applications › New Application › OAuth2: copy the Client ID, Reset Secret for the Client Secret; Redirects › Add Redirect " + presetRedirectURI + " (exact match). The scopes identify and email are asked for at sign-in; leave Public Client off.",
	},
	{
		// Sign in with Apple: developer.apple.com/documentation/
		// signinwithapple (the issuer https://appleid.apple.com and its
		// discovery document; /auth/authorize, /auth/token, /auth/keys,
		// /auth/revoke; no userinfo endpoint: the ID token is all;
		// "Creating a client secret": an ES256 JWT with kid, iss the team
		// id, sub the Services ID, aud https://appleid.apple.com, exp at
		// most six months ahead; client_secret_post; response_mode
		// form_post when name or email is asked for; the user's name
		// comes once, on the first sign-in, as the form's user JSON;
		// email_verified and is_private_email are the strings "true" and
		// "false"; sub is the stable user id). PKCE is honoured when sent
		// (a code_verifier is required when the request had a challenge).
		Name:           "apple",
		DisplayName:    "Apple",
		Kind:           KindOIDC,
		IssuerURL:      "https://appleid.apple.com",
		Scopes:         []string{"openid", "name", "email"},
		ResponseMode:   "form_post",
		UserInCallback: true,
		TokenAuthStyle: AuthStyleParams,
		PKCE:           true,
		Claims: Claims{
			Attributes: []Attribute{{Name: "Private-Email", Paths: []string{"is_private_email"}}},
		},
		EmailVerifiedDefault: false,
		Console:              "Apple Developer › Certificates, Identifiers & Profiles › Identifiers: an App ID with Sign in with Apple enabled, then a Services ID (its identifier is CLIENT_ID) with Sign in with Apple configured: Domains and Subdomains your host, Return URLs " + presetRedirectURI + " (https only). Keys › + with Sign in with Apple: download the .p8 (CLIENT_KEY_FILE) and note its Key ID (CLIENT_KEY_ID); APPLE_TEAM_ID is the Team ID at the top right of the account. No CLIENT_SECRET: Portcullis signs it.",
		Needs:                []string{"APPLE_TEAM_ID", "CLIENT_KEY_ID", "CLIENT_KEY_FILE"},
	},
}
