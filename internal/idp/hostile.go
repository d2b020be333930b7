package idp

import (
	"maps"
	"slices"
)

// Hostile is a set of claim values an attacker might get a provider to
// send (a group they named, an address they typed), for tests that the
// relying party passes them on exactly as sent or not at all.
type Hostile struct {
	// Name selects the set in Options.Hostile.
	Name string
	// Claims replace the signed-in user's claims of the same name.
	Claims map[string]any
}

// hostileClaims is the catalogue HostileClaims returns.
var hostileClaims = []Hostile{
	{"group-nul", map[string]any{"groups": []string{"admins\x00"}}},
	{"group-tab", map[string]any{"groups": []string{"\tadmins"}}},
	{"group-space", map[string]any{"groups": []string{"admins "}}},
	{"group-crlf", map[string]any{"groups": []string{"admins\r\n"}}},
	{"group-comma", map[string]any{"groups": []string{"staff,admins"}}},
	{"group-string-nul", map[string]any{"groups": "staff,admins\x00"}},
	{"email-nul", map[string]any{"email": "alice@example.com\x00"}},
	{"email-crlf", map[string]any{"email": "alice@example.com\r\nX-Admin: 1"}},
	{"email-space", map[string]any{"email": " alice@example.com"}},
	{"id-nul", map[string]any{"sub": "1001\x00"}},
	{"id-crlf", map[string]any{"sub": "1001\r\n"}},
	{"username-nul", map[string]any{"preferred_username": "alice\x00"}},
	{"name-crlf", map[string]any{"name": "Alice\r\nX-User: admin"}},
	{"verified-no", map[string]any{"email_verified": "no"}},
	{"verified-empty", map[string]any{"email_verified": ""}},
	{"verified-array", map[string]any{"email_verified": []any{}}},
	{"verified-2", map[string]any{"email_verified": 2}},
	{"verified-1", map[string]any{"email_verified": 1}},
	{"verified-object", map[string]any{"email_verified": map[string]any{}}},
	{"verified-null", map[string]any{"email_verified": nil}},
	{"verified-false-string", map[string]any{"email_verified": "false"}},
}

// HostileClaims returns the hostile claim sets Options.Hostile can name.
func HostileClaims() []Hostile {
	out := make([]Hostile, len(hostileClaims))
	for i, h := range hostileClaims {
		out[i] = Hostile{Name: h.Name, Claims: maps.Clone(h.Claims)}
	}
	return out
}

// hostile returns the claims of the set named name; nil for "".
func hostile(name string) map[string]any {
	i := slices.IndexFunc(hostileClaims, func(h Hostile) bool { return h.Name == name })
	if i < 0 {
		return nil
	}
	return hostileClaims[i].Claims
}

// withHostile replaces claims in c by those of the hostile set name.
func withHostile(c map[string]any, name string) map[string]any {
	maps.Copy(c, hostile(name))
	return c
}
