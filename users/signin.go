package users

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
)

// SignIn signs in the person a provider has identified, returning the
// registry's user for them (whose Name is X-User):
//
//   - The identity (provider, external id) is linked to an active user: that
//     user, with profile, attributes and last sign-in refreshed.
//   - It is linked to a disabled user: ErrDisabled.
//   - It is unknown, opts.LinkByVerifiedEmail is on, the provider is in
//     opts.TrustedEmailProviders and says the e-mail is verified, and
//     exactly one active user has that address: the identity is linked to
//     that user, who is signed in. (If only disabled users have it:
//     ErrDisabled, so that a disabled person can't come back as someone new.)
//   - Otherwise, with opts.AutoSignup a new active user is created, named
//     after the username claim, else the e-mail's local part, else "user",
//     sanitised and made unique with -2, -3 …; without it, ErrNotRegistered
//     and nothing is created.
//
// Concurrent first sign-ins of the same person create one user: the losers
// of the race find the winner's. An unreachable database is ErrUnavailable.
func (r *Registry) SignIn(ctx context.Context, p Profile, opts SignInOptions) (*User, error) {
	if err := p.Identity().validate(); err != nil {
		return nil, err
	}
	var u *User
	err := r.inTx(ctx, func(tx *sql.Tx) (err error) {
		u, err = r.signIn(ctx, tx, &p, &opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (r *Registry) signIn(ctx context.Context, tx *sql.Tx, p *Profile, opts *SignInOptions) (*User, error) {
	id := p.Identity()
	userID, err := linkedUserID(ctx, tx, id)
	switch {
	case err == nil:
		u, err := userBy(ctx, tx, "id", userID)
		if err != nil {
			return nil, err
		}
		if !u.Active() {
			return nil, errorf(ErrDisabled, "user %q is disabled", u.Name)
		}
		return r.refresh(ctx, tx, u, p)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}

	if opts.LinkByVerifiedEmail && p.EmailVerified && emailKey(p.Email) != "" && slices.Contains(opts.TrustedEmailProviders, p.Provider) {
		u, err := r.linkByEmail(ctx, tx, p)
		if u != nil || err != nil {
			return u, err
		}
	}

	if !opts.AutoSignup {
		return nil, errorf(ErrNotRegistered, "identity %s is not registered", id)
	}
	name, err := uniqueName(ctx, tx, baseName(p))
	if err != nil {
		return nil, err
	}
	now := r.timestamp()
	u := &User{Name: name, CreatedAt: now, LastSignIn: now}
	mergeProfile(u, p)
	userID, err = r.insertUser(ctx, tx, u)
	if err != nil {
		return nil, err // a name or identity taken meanwhile: inTx runs us again
	}
	if err := r.linkTo(ctx, tx, userID, id); err != nil {
		return nil, lostRace(err)
	}
	return userBy(ctx, tx, "id", userID)
}

// lostRace turns ErrExists from linking the signing-in identity into
// errRetry: a concurrent sign-in of the same person linked it after we
// looked it up, and running again finds their user.
func lostRace(err error) error {
	if errors.Is(err, ErrExists) {
		return errRetry
	}
	return err
}

// linkByEmail links p's identity to the one active user with p's e-mail
// address and signs them in. It returns nil, nil when no user or several
// have that address.
func (r *Registry) linkByEmail(ctx context.Context, tx *sql.Tx, p *Profile) (*User, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, status FROM portcullis_users WHERE email_key = $1`, emailKey(p.Email))
	if err != nil {
		return nil, err
	}
	var active []int64
	disabled := 0
	for rows.Next() {
		var (
			id     int64
			status string
		)
		if err := rows.Scan(&id, &status); err != nil {
			rows.Close()
			return nil, err
		}
		if Status(status) == StatusActive {
			active = append(active, id)
		} else {
			disabled++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch {
	case len(active) == 1:
	case len(active) == 0 && disabled > 0:
		return nil, errorf(ErrDisabled, "identity %s: the users with e-mail %q are disabled", p.Identity(), p.Email)
	default:
		return nil, nil // nobody, or ambiguous: never guess
	}
	if err := r.linkTo(ctx, tx, active[0], p.Identity()); err != nil {
		return nil, lostRace(err)
	}
	u, err := userBy(ctx, tx, "id", active[0])
	if err != nil {
		return nil, err
	}
	return r.refresh(ctx, tx, u, p)
}

// refresh records a sign-in of u with profile p.
func (r *Registry) refresh(ctx context.Context, tx *sql.Tx, u *User, p *Profile) (*User, error) {
	mergeProfile(u, p)
	u.LastSignIn = r.timestamp()
	_, err := tx.ExecContext(ctx, `UPDATE portcullis_users SET email = $1, email_key = $2, given_name = $3, family_name = $4,
		display_name = $5, picture = $6, locale = $7, attributes = $8, last_sign_in = $9 WHERE id = $10`,
		u.Email, emailKey(u.Email), u.GivenName, u.FamilyName, u.DisplayName, u.Picture, u.Locale,
		encodeAttributes(u.Attributes), micros(u.LastSignIn), u.ID)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// uniqueName returns base, or base-2, base-3 … whichever is the first
// nobody has.
func uniqueName(ctx context.Context, tx *sql.Tx, base string) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM portcullis_users WHERE name = $1 OR name LIKE $2 ESCAPE '\'`,
		base, escapeLike(base)+"-%")
	if err != nil {
		return "", err
	}
	taken := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return "", err
		}
		taken[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !taken[base] {
		return base, nil
	}
	for n := 2; ; n++ {
		name := withSuffix(base, n)
		if taken[name] {
			continue
		}
		if !strings.HasPrefix(name, base+"-") {
			// base was cut to fit: the query above didn't look for this.
			var c int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM portcullis_users WHERE name = $1`, name).Scan(&c); err != nil {
				return "", err
			}
			if c > 0 {
				continue
			}
		}
		return name, nil
	}
}

// escapeLike escapes LIKE's wildcards (and the escape character) in s.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
