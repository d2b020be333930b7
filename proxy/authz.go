package proxy

import (
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/portcullis/portcullis/session"
)

// Rules decide who may pass once signed in. Empty lists allow everyone.
// A user passes when (no e-mail rule is set, or the e-mail is listed in
// Emails or its domain in Domains) and (no Groups are set, or the user is in
// at least one of them).
type Rules struct {
	Emails  []string // exact addresses, case-insensitive
	Domains []string // e-mail domains, case-insensitive, exact (no subdomains)
	Groups  []string // group names, exact
	// Claims require attribute values: attribute name → allowed values
	// (exact); the user needs one of the listed values of each.
	Claims map[string][]string
}

// normalized returns the rules with e-mails and domains lower-cased (in
// ASCII, as they are compared).
func (r Rules) normalized() Rules {
	lower := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, s := range in {
			if s = asciiLower(strings.TrimSpace(s)); s != "" {
				out = append(out, strings.TrimPrefix(s, "@"))
			}
		}
		return out
	}
	return Rules{Emails: lower(r.Emails), Domains: lower(r.Domains), Groups: r.Groups, Claims: r.Claims}
}

// Allow reports whether s passes the rules, and if not, why, in words fit
// for the user.
func (r Rules) Allow(s *session.State) (bool, string) {
	return r.allow(s, nil)
}

// allow is Allow with list, when it is not nil, standing in for Emails:
// an empty list still makes an e-mail rule, which no address passes.
func (r Rules) allow(s *session.State, list emailSet) (bool, string) {
	if len(r.Emails) > 0 || len(r.Domains) > 0 || list != nil {
		local, domain, ok := splitEmail(s.Email)
		if !ok {
			return false, "Your account has no usable e-mail address, and this site only admits listed addresses."
		}
		addr := local + "@" + domain
		listed := containsFold(r.Emails, addr)
		if list != nil {
			_, listed = list[addr]
		}
		if !listed && !containsFold(r.Domains, domain) {
			return false, "Your e-mail address is not on this site's list of allowed addresses or domains."
		}
	}
	if len(r.Groups) > 0 && !intersects(r.Groups, s.Groups) {
		return false, "You are not a member of any group allowed on this site."
	}
	for name, allowed := range r.Claims {
		if v, ok := s.Attributes[name]; !ok || !intersects(allowed, []string{v}) {
			return false, "Your account lacks an attribute this page requires."
		}
	}
	return true, ""
}

// empty reports whether the rules admit everyone.
func (r Rules) empty() bool {
	return len(r.Emails)+len(r.Domains)+len(r.Groups)+len(r.Claims) == 0
}

// splitEmail splits an address into its local part and domain, lower-cased
// in ASCII only: the address is compared as the provider sent it, save for
// ASCII case, so no other character can fold into an allowed one (Unicode
// lower-cases "İ" to "i"). It refuses addresses without exactly one "@",
// with an empty side, or holding white space or a control character.
func splitEmail(email string) (local, domain string, ok bool) {
	if strings.ContainsFunc(email, func(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsSpace(r) }) {
		return "", "", false
	}
	local, domain, found := strings.Cut(asciiLower(email), "@")
	if !found || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", "", false
	}
	return local, domain, true
}

// asciiLower lower-cases the ASCII letters of s and nothing else.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// containsFold reports whether list (already lower-case) contains s.
func containsFold(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func intersects(allowed, have []string) bool {
	for _, a := range allowed {
		for _, h := range have {
			if a == h {
				return true
			}
		}
	}
	return false
}

// An EmailList is a list of allowed e-mail addresses that can be replaced
// while requests are served (ALLOWED_EMAILS_FILE, re-read when it
// changes): Set swaps the whole list at once, and each request reads the
// list of the moment without a lock. As Access.Emails it stands for the
// global rules' Emails, and an empty list admits no one by address
// (Domains still admit theirs).
type EmailList struct {
	set atomic.Pointer[emailSet]
}

// emailSet holds addresses lower-cased in ASCII, as splitEmail compares
// them. A nil emailSet is no list; an empty one is a list of none.
type emailSet map[string]struct{}

// NewEmailList returns a list of addrs.
func NewEmailList(addrs []string) *EmailList {
	l := &EmailList{}
	l.Set(addrs)
	return l
}

// Set replaces the list with addrs (matched regardless of ASCII case).
func (l *EmailList) Set(addrs []string) {
	set := make(emailSet, len(addrs))
	for _, a := range (Rules{Emails: addrs}).normalized().Emails {
		set[a] = struct{}{}
	}
	l.set.Store(&set)
}

// Len is how many addresses the list holds now.
func (l *EmailList) Len() int { return len(l.current()) }

// current is the list of the moment; nil when l is.
func (l *EmailList) current() emailSet {
	if l == nil {
		return nil
	}
	return *l.set.Load()
}
