package proxy

import "net/http"

// Single-page apps: the 401 JSON that tells a script where to sign in
// (here), the pop-up sign-in (popup.go), the session's status and its
// access token for the app's own scripts (status.go), and the scripts
// that tie them together (assets.go, static/).

// unauthenticatedAnswer is the body of every 401 Portcullis writes for a
// request that is not a browser's navigation.
type unauthenticatedAnswer struct {
	Error string `json:"error"` // "unauthenticated"
	// Description says why a credential the request carried was refused
	// (a bearer token); empty: the request carried none that counts.
	Description string `json:"error_description,omitempty"`
	SignInURL   string `json:"sign_in_url"`
	PopupURL    string `json:"popup_url"`
}

// writeUnauthenticated answers 401 with where to sign in, coming back to
// rd: on PUBLIC_URL when it is set, else on the host the request reached.
func (s *Server) writeUnauthenticated(w http.ResponseWriter, rd, description string) {
	writeJSON(w, http.StatusUnauthorized, unauthenticatedAnswer{
		Error:       "unauthenticated",
		Description: description,
		SignInURL:   s.absoluteSignInURL(rd),
		PopupURL:    s.site.base + s.popupURL(rd),
	})
}
