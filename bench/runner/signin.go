package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// signIn runs the browser flow once against Portcullis at base, through the
// development provider (which approves alice at once), and returns the
// Cookie header value that carries the session.
func signIn(ctx context.Context, base string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Jar: jar, Timeout: 15 * time.Second}
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != base+"/" {
		return "", fmt.Errorf("the flow ended at %s with %d; want %s/ with 200", resp.Request.URL, resp.StatusCode, base)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, c := range jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "_portcullis") && c.Name != "_portcullis_csrf" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return "", errors.New("no session cookie after sign-in")
	}
	cookie := strings.Join(parts, "; ")

	// The cookie alone, without the jar, must pass both targets.
	for _, c := range []struct {
		path string
		want int
	}{{"/", http.StatusOK}, {"/oauth2/auth", http.StatusAccepted}} {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+c.path, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			return "", fmt.Errorf("GET %s with the session cookie = %d; want %d", c.path, resp.StatusCode, c.want)
		}
	}
	return cookie, nil
}
