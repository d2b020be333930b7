package users

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

const userColumns = `id, name, email, given_name, family_name, display_name, picture, locale, attributes, status, created_at, last_sign_in`

// scanUser reads a row of userColumns.
func scanUser(scan func(dest ...any) error) (*User, error) {
	var (
		u          User
		attrs      string
		status     string
		created    int64
		lastSignIn sql.NullInt64
	)
	if err := scan(&u.ID, &u.Name, &u.Email, &u.GivenName, &u.FamilyName, &u.DisplayName, &u.Picture, &u.Locale,
		&attrs, &status, &created, &lastSignIn); err != nil {
		return nil, err
	}
	if attrs != "" && attrs != "{}" {
		if err := json.Unmarshal([]byte(attrs), &u.Attributes); err != nil {
			return nil, fmt.Errorf("user %q: attributes: %w", u.Name, err)
		}
	}
	u.Status = Status(status)
	u.CreatedAt = fromMicros(created)
	if lastSignIn.Valid {
		u.LastSignIn = fromMicros(lastSignIn.Int64)
	}
	u.Identities = []Identity{}
	return &u, nil
}

func encodeAttributes(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // map[string]string always marshals
	return string(b)
}

// emailKey is the form e-mail addresses are compared in.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// userBy loads the user whose column (id or name) is v, with identities,
// or returns ErrNotFound.
func userBy(ctx context.Context, q querier, column string, v any) (*User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM portcullis_users WHERE `+column+` = $1`, v).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		if column == "name" {
			return nil, errorf(ErrNotFound, "user %q not found", v)
		}
		return nil, errorf(ErrNotFound, "user id %v not found", v)
	}
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT provider, external_id FROM portcullis_identities WHERE user_id = $1 ORDER BY provider, external_id`, u.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id Identity
		if err := rows.Scan(&id.Provider, &id.ExternalID); err != nil {
			return nil, err
		}
		u.Identities = append(u.Identities, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortIdentities(u.Identities) // the same order whatever the collation
	return u, nil
}

// linkedUserID returns the id of the user id is linked to, or
// sql.ErrNoRows.
func linkedUserID(ctx context.Context, q querier, id Identity) (int64, error) {
	var userID int64
	err := q.QueryRowContext(ctx, `SELECT user_id FROM portcullis_identities WHERE provider = $1 AND external_id = $2`,
		id.Provider, id.ExternalID).Scan(&userID)
	return userID, err
}

// owner returns the name of the user id is linked to, or "".
func owner(ctx context.Context, q querier, id Identity) (string, error) {
	var name string
	err := q.QueryRowContext(ctx, `SELECT u.name FROM portcullis_identities i JOIN portcullis_users u ON u.id = i.user_id
		WHERE i.provider = $1 AND i.external_id = $2`, id.Provider, id.ExternalID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, err
}

// linkTo links id to the user with userID, unless it is linked already.
func (r *Registry) linkTo(ctx context.Context, tx *sql.Tx, userID int64, id Identity) error {
	name, err := owner(ctx, tx, id)
	if err != nil {
		return err
	}
	if name != "" {
		return errorf(ErrExists, "identity %s is already linked to user %q", id, name)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO portcullis_identities (provider, external_id, user_id, linked_at) VALUES ($1, $2, $3, $4)`,
		id.Provider, id.ExternalID, userID, micros(r.timestamp()))
	return err
}

// insertUser creates an active user from u's name and profile and returns
// its id.
func (r *Registry) insertUser(ctx context.Context, tx *sql.Tx, u *User) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO portcullis_users
		(name, email, email_key, given_name, family_name, display_name, picture, locale, attributes, status, created_at, last_sign_in)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		u.Name, u.Email, emailKey(u.Email), u.GivenName, u.FamilyName, u.DisplayName, u.Picture, u.Locale,
		encodeAttributes(u.Attributes), string(StatusActive), micros(u.CreatedAt), nullMicros(u.LastSignIn)).Scan(&id)
	return id, err
}

// nullMicros is t as stored, NULL for the zero time.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// Get returns the user called name, or ErrNotFound.
func (r *Registry) Get(ctx context.Context, name string) (*User, error) {
	u, err := userBy(ctx, r.db, "name", name)
	return u, r.classify(err)
}

// Lookup returns the user identity id is linked to, changing nothing (no
// sign-up, no profile refresh), or ErrNotFound: for requests that carry a
// provider's token rather than a session. The caller checks Active.
func (r *Registry) Lookup(ctx context.Context, id Identity) (*User, error) {
	userID, err := linkedUserID(ctx, r.db, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errorf(ErrNotFound, "identity %s is not linked to any user", id)
	}
	if err != nil {
		return nil, r.classify(err)
	}
	u, err := userBy(ctx, r.db, "id", userID)
	return u, r.classify(err)
}

// List returns every user, by name.
func (r *Registry) List(ctx context.Context) ([]User, error) {
	list, err := r.list(ctx)
	return list, r.classify(err)
}

func (r *Registry) list(ctx context.Context) ([]User, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+userColumns+` FROM portcullis_users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var list []User
	index := map[int64]int{}
	for rows.Next() {
		u, err := scanUser(rows.Scan)
		if err != nil {
			rows.Close()
			return nil, err
		}
		index[u.ID] = len(list)
		list = append(list, *u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = r.db.QueryContext(ctx, `SELECT user_id, provider, external_id FROM portcullis_identities`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			uid int64
			id  Identity
		)
		if err := rows.Scan(&uid, &id.Provider, &id.ExternalID); err != nil {
			return nil, err
		}
		if i, ok := index[uid]; ok { // else added after the first query
			list[i].Identities = append(list[i].Identities, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range list {
		sortIdentities(list[i].Identities)
	}
	if list == nil {
		list = []User{}
	}
	return list, nil
}

// Add pre-registers an active user called name (see ValidName), with an
// e-mail address (may be empty) and, unless link is nil, an identity
// linked to it, so that the person can sign in when sign-up is off. A
// taken name or an identity linked to someone already is ErrExists.
func (r *Registry) Add(ctx context.Context, name, email string, link *Identity) (*User, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if link != nil {
		if err := link.validate(); err != nil {
			return nil, err
		}
	}
	var u *User
	err := r.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM portcullis_users WHERE name = $1`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errorf(ErrExists, "user %q already exists", name)
		}
		id, err := r.insertUser(ctx, tx, &User{Name: name, Email: strings.TrimSpace(email), CreatedAt: r.timestamp()})
		if err != nil {
			return err
		}
		if link != nil {
			if err := r.linkTo(ctx, tx, id, *link); err != nil {
				return err
			}
		}
		u, err = userBy(ctx, tx, "id", id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Link links identity id to the user called name, so that signing in with
// it signs that user in. An identity linked already (to anyone) is
// ErrExists, naming the user it is linked to; Unlink it first to move it.
func (r *Registry) Link(ctx context.Context, name string, id Identity) error {
	if err := id.validate(); err != nil {
		return err
	}
	return r.inTx(ctx, func(tx *sql.Tx) error {
		u, err := userBy(ctx, tx, "name", name)
		if err != nil {
			return err
		}
		return r.linkTo(ctx, tx, u.ID, id)
	})
}

// Unlink removes identity id from the user called name. ErrNotFound: no
// such user, or the identity isn't linked to that user. A user without
// identities stays, and can sign in again once an identity is linked.
func (r *Registry) Unlink(ctx context.Context, name string, id Identity) error {
	return r.inTx(ctx, func(tx *sql.Tx) error {
		u, err := userBy(ctx, tx, "name", name)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM portcullis_identities WHERE provider = $1 AND external_id = $2 AND user_id = $3`,
			id.Provider, id.ExternalID, u.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errorf(ErrNotFound, "identity %s is not linked to user %q", id, name)
		}
		return nil
	})
}

// SetStatus enables (StatusActive) or disables (StatusDisabled) the user
// called name. A disabled user can't sign in, and a Checker cuts off their
// open sessions within its TTL.
func (r *Registry) SetStatus(ctx context.Context, name string, status Status) error {
	if !status.Valid() {
		return errorf(ErrInvalid, "status %q: want %q or %q", status, StatusActive, StatusDisabled)
	}
	return r.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE portcullis_users SET status = $1 WHERE name = $2`, string(status), name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errorf(ErrNotFound, "user %q not found", name)
		}
		return nil
	})
}

// Delete removes the user called name and unlinks their identities; a
// Checker treats their open sessions as disabled. The id is not reused. To
// keep someone out, disable them instead: after Delete, sign-up (if on)
// would create them anew.
func (r *Registry) Delete(ctx context.Context, name string) error {
	return r.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM portcullis_users WHERE name = $1`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return errorf(ErrNotFound, "user %q not found", name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM portcullis_identities WHERE user_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM portcullis_users WHERE id = $1`, id)
		return err
	})
}

// Status reports whether the user with the given id is active: false for a
// disabled or deleted user. It is one indexed query, for a Checker.
func (r *Registry) Status(ctx context.Context, userID int64) (active bool, err error) {
	var status string
	err = r.db.QueryRowContext(ctx, `SELECT status FROM portcullis_users WHERE id = $1`, userID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, r.classify(err)
	}
	return Status(status) == StatusActive, nil
}

// mergeProfile refreshes u from what the provider said: each non-empty
// field and attribute replaces the stored one; an empty one (the provider
// didn't say) leaves it.
func mergeProfile(u *User, p *Profile) {
	set := func(dst *string, v string) {
		if v = strings.TrimSpace(v); v != "" {
			*dst = v
		}
	}
	set(&u.Email, p.Email)
	set(&u.GivenName, p.GivenName)
	set(&u.FamilyName, p.FamilyName)
	set(&u.DisplayName, p.DisplayName)
	set(&u.Picture, p.Picture)
	set(&u.Locale, p.Locale)
	if len(p.Attributes) > 0 {
		attrs := maps.Clone(u.Attributes)
		if attrs == nil {
			attrs = map[string]string{}
		}
		for k, v := range p.Attributes {
			if v != "" {
				attrs[k] = v
			}
		}
		u.Attributes = attrs
	}
}
