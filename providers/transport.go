package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// userAgent is sent on every call to a provider; GitHub requires one.
const userAgent = "Portcullis"

// capture is what the token shim saw of the last answer of one call. One
// capture serves one token or refresh call, which x/oauth2 makes from the
// calling goroutine, so it needs no lock.
type capture struct {
	status int    // status as the provider sent it, before normalising
	body   []byte // body as the provider sent it
	json   bool   // body decoded as a JSON object
	doc    map[string]any
}

// problem says in plain words why a 2xx answer could not be used.
func (c *capture) problem() string {
	if c.json {
		return "response has no access_token"
	}
	return "response is neither a JSON object nor a form holding an access_token"
}

// tokenShim is the http.RoundTripper installed, through the oauth2.HTTPClient
// context value, under x/oauth2's token and refresh requests. It adds what
// x/oauth2 lacks: renamed client_id/client_secret parameters, TOKEN_PARAMS,
// TOKEN_METHOD=GET, a response size limit, and provider error bodies turned
// into RFC 6749 JSON so that x/oauth2 returns an *oauth2.RetrieveError.
type tokenShim struct {
	p    *OAuth2
	base http.RoundTripper
	c    *capture
}

// client returns an http.Client like the configured one whose transport is
// the shim.
func (s *tokenShim) client() *http.Client {
	hc := *s.p.cfg.HTTPClient
	hc.Transport = s
	return &hc
}

// RoundTrip rewrites the token request, sends it, and normalises the answer.
func (s *tokenShim) RoundTrip(req *http.Request) (*http.Response, error) {
	out, err := s.rewrite(req)
	if err != nil {
		return nil, err
	}
	resp, err := s.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	body, err := readLimited(resp.Body, s.p.cfg.MaxResponseBytes)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	*s.c = capture{status: resp.StatusCode, body: body}
	if len(body) > int(s.p.cfg.MaxResponseBytes) {
		return nil, &Error{
			Kind:        ErrBadResponse,
			Status:      resp.StatusCode,
			Description: fmt.Sprintf("response larger than %d bytes refused", s.p.cfg.MaxResponseBytes),
		}
	}
	if resp.Header == nil {
		resp.Header = make(http.Header)
	}
	if doc, err := decodeJSONObject(body); err == nil {
		s.c.json, s.c.doc = true, doc
		ok2xx := resp.StatusCode >= 200 && resp.StatusCode <= 299
		_, hasToken := doc["access_token"]
		rfc, _ := doc["error"].(string)
		// RFC 6749 bodies (an "error" string) x/oauth2 reads as they are.
		if code, desc, found := errorShape(doc, !ok2xx || !hasToken); found && rfc == "" {
			body, _ = json.Marshal(map[string]string{"error": code, "error_description": desc})
			if ok2xx {
				resp.StatusCode, resp.Status = http.StatusBadRequest, "400 Bad Request"
			}
		}
		// Some providers label JSON text/plain, which x/oauth2 would read
		// as a query string.
		resp.Header.Set("Content-Type", "application/json")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, nil
}

// rewrite returns a copy of x/oauth2's token request with the configured
// parameter names, extra parameters, method and headers.
func (s *tokenShim) rewrite(req *http.Request) (*http.Request, error) {
	cfg := &s.p.cfg
	out := req.Clone(req.Context())
	var form url.Values
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		if form, err = url.ParseQuery(string(b)); err != nil {
			return nil, err
		}
	} else {
		form = url.Values{}
	}
	rename := func(from, to string) {
		if to == from {
			return
		}
		if v, ok := form[from]; ok {
			delete(form, from)
			form[to] = v
		}
	}
	rename("client_id", cfg.ClientIDParam)
	rename("client_secret", cfg.ClientSecretParam)
	for k, v := range cfg.TokenParams {
		if _, set := form[k]; !set {
			form[k] = append([]string(nil), v...)
		}
	}
	if cfg.TokenAuthStyle == AuthStyleParams || cfg.TokenAuthStyle.secretless() {
		out.Header.Del("Authorization")
	}
	endpoint := *req.URL
	endpoint.RawQuery, endpoint.Fragment = "", ""
	if err := cfg.auth.add(form, endpoint.String(), cfg.ClientSecretParam); err != nil {
		return nil, err
	}
	if cfg.TokenMethod == http.MethodGet {
		u := *out.URL
		q := u.Query()
		for k, v := range form {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		out.URL = &u
		out.Method = http.MethodGet
		out.Body, out.GetBody, out.ContentLength = http.NoBody, nil, 0
		out.Header.Del("Content-Type")
	} else {
		enc := form.Encode()
		out.Body = io.NopCloser(strings.NewReader(enc))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(enc)), nil }
		out.ContentLength = int64(len(enc))
	}
	if out.Header.Get("Accept") == "" {
		out.Header.Set("Accept", "application/json")
	}
	out.Header.Set("User-Agent", userAgent)
	return out, nil
}

// baseTransport returns hc's transport, or http.DefaultTransport when it
// has none: what the package's own round trippers wrap.
func baseTransport(hc *http.Client) http.RoundTripper {
	if hc.Transport != nil {
		return hc.Transport
	}
	return http.DefaultTransport
}

// readLimited reads r up to max+1 bytes, so the caller can tell an
// oversized body by its length.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, max+1))
}

// decodeJSON decodes a whole body as one JSON value with UseNumber, so
// numeric ids stay exact.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// decodeJSONObject decodes a whole body as one JSON object with UseNumber.
func decodeJSONObject(body []byte) (map[string]any, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a JSON %s, not an object", jsonKind(v))
	}
	return doc, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
