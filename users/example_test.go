package users_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/users"
)

// The proxy signs people in against the registry, and an administrator
// links a second provider's identity to the same user.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "users-example")
	defer os.RemoveAll(dir)
	reg, err := users.Open(ctx, filepath.Join(dir, "users.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Close()

	opts := users.SignInOptions{AutoSignup: true}
	u, _ := reg.SignIn(ctx, users.Profile{Provider: "google", ExternalID: "1001", Email: "Alice.Liddell@example.com"}, opts)
	fmt.Println("signed up:", u.Name)

	reg.Link(ctx, u.Name, users.Identity{Provider: "github", ExternalID: "42"})
	u, _ = reg.SignIn(ctx, users.Profile{Provider: "github", ExternalID: "42", Username: "alice-gh"}, opts)
	fmt.Println("via github:", u.Name, u.Identities)

	reg.SetStatus(ctx, u.Name, users.StatusDisabled)
	_, err = reg.SignIn(ctx, users.Profile{Provider: "google", ExternalID: "1001"}, opts)
	fmt.Println("disabled:", errors.Is(err, users.ErrDisabled))

	_, err = reg.SignIn(ctx, users.Profile{Provider: "google", ExternalID: "2002"}, users.SignInOptions{})
	fmt.Println("unknown, sign-up off:", errors.Is(err, users.ErrNotRegistered))
	// Output:
	// signed up: alice.liddell
	// via github: alice.liddell [github:42 google:1001]
	// disabled: true
	// unknown, sign-up off: true
}

// A Checker in front of the registry: sessions of a disabled user end
// within the TTL, with one query per user per TTL.
func ExampleChecker() {
	ctx := context.Background()
	reg, _ := users.Open(ctx, ":memory:")
	defer reg.Close()
	u, _ := reg.Add(ctx, "alice", "", nil)

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	check := users.NewChecker(reg.Status, users.CheckerOptions{TTL: time.Minute, Now: func() time.Time { return now }})

	active, _ := check.Active(ctx, u.ID)
	fmt.Println("active:", active)
	reg.SetStatus(ctx, "alice", users.StatusDisabled)
	active, _ = check.Active(ctx, u.ID)
	fmt.Println("moments later:", active)
	now = now.Add(time.Minute)
	active, _ = check.Active(ctx, u.ID)
	fmt.Println("a minute later:", active)
	// Output:
	// active: true
	// moments later: true
	// a minute later: false
}
