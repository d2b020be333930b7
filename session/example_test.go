package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/portcullis/portcullis/session"
)

func ExampleCookieStore() {
	store, err := session.NewCookieStore(session.Options{
		Secrets: [][]byte{[]byte("an example secret of at least 32 bytes")},
		Secure:  true,
		Expire:  168 * time.Hour,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The callback saves the session once the user has signed in…
	rec := httptest.NewRecorder()
	st := &session.State{Provider: "github", UserID: "42", User: "octocat", CreatedAt: time.Now()}
	if err := store.Save(rec, httptest.NewRequest(http.MethodGet, "/oauth2/callback", nil), st); err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range rec.Header().Values("Set-Cookie") {
		name, _, _ := strings.Cut(line, "=")
		fmt.Println("set", name)
	}

	// …and every later request loads it from the cookies the browser sends.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	got, err := store.Load(r)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signed in:", got.User, "via", got.Provider)

	// A request without the cookies has no session.
	_, err = store.Load(httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(err == session.ErrNoSession)
	// Output:
	// set _portcullis
	// signed in: octocat via github
	// true
}

func ExampleFlows() {
	flows, err := session.NewFlows(session.Options{
		Secrets: [][]byte{[]byte("an example secret of at least 32 bytes")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// /oauth2/start binds the sign-in to the browser…
	start := httptest.NewRecorder()
	flow := &session.Flow{State: "random-state", Provider: "github", Redirect: "/reports"}
	if err := flows.Save(start, httptest.NewRequest(http.MethodGet, "/oauth2/start", nil), flow); err != nil {
		fmt.Println(err)
		return
	}

	// …and /oauth2/callback checks the state the provider sent back, once.
	callback := httptest.NewRequest(http.MethodGet, "/oauth2/callback?state=random-state", nil)
	for _, c := range start.Result().Cookies() {
		callback.AddCookie(c)
	}
	state := callback.URL.Query().Get("state")
	got, err := flows.Load(callback, state)
	if err != nil {
		fmt.Println(err)
		return
	}
	flows.Clear(httptest.NewRecorder(), callback, state)
	fmt.Println("return to", got.Redirect)

	_, err = flows.Load(callback, "forged-state")
	fmt.Println(err)
	// Output:
	// return to /reports
	// session: no matching sign-in flow
}
