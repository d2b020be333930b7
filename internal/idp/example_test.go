package idp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/idp"
)

// A test runs the provider over real HTTP, signing in as alice without a
// page, and follows the code flow by hand.
func ExampleNew() {
	p := idp.New(idp.Options{ClientID: "app", ClientSecret: "secret", AutoApprove: "alice"})
	ts := httptest.NewServer(p)
	defer ts.Close()
	ep := idp.EndpointsAt(ts.URL)

	c := ts.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, _ := c.Get(ep.AuthURL + "?" + url.Values{
		"client_id":     {"app"},
		"redirect_uri":  {"https://app.example.com/oauth2/callback"},
		"response_type": {"code"},
		"state":         {"s1"},
	}.Encode())
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))

	resp, _ = c.PostForm(ep.TokenURL, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {loc.Query().Get("code")},
		"redirect_uri":  {"https://app.example.com/oauth2/callback"},
		"client_id":     {"app"},
		"client_secret": {"secret"},
	})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `"token_type":"Bearer"`))
	fmt.Println(p.Calls("authorize"), p.Calls("token"))
	// Output:
	// 200 true
	// 1 1
}

// The demo listens on loopback only.
func ExampleListenLoopback() {
	_, err := idp.ListenLoopback("0.0.0.0:0")
	fmt.Println(err)
	l, err := idp.ListenLoopback("")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println(strings.HasPrefix(l.Addr().String(), "127.0.0.1:"))
	// Output:
	// listen on "0.0.0.0:0": host "0.0.0.0" is not a loopback address (127.0.0.0/8, ::1 or localhost)
	// true
}
