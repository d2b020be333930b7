// Package zitadel tests Portcullis against an OpenID provider nobody here
// wrote: the example provider that ships with github.com/zitadel/oidc/v3
// (example/server/exampleop and its in-memory storage), run in-process over
// real HTTP, with its own login form, refresh-token rotation,
// introspection, revocation and end-session. Portcullis runs as its real
// binary, built from this repository and configured only through
// PORTCULLIS_* variables (PROVIDER=oidc, ISSUER_URL at the example).
//
// Where the example needs a client registered differently (the redirect
// URI on the test's loopback port, a post-logout redirect URI, JWT access
// tokens, a short access-token lifetime, private_key_jwt with the keys
// Portcullis publishes at /.well-known/portcullis/jwks.json), the tests
// wrap its storage rather than fork it.
//
// It is a module of its own (see go.mod); `make test`, `make vet` and
// `make lint` cover it. It has no code of its own: everything is in its
// _test.go files.
//
//	cd e2e/zitadel && go test -race ./...
package zitadel
