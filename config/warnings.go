package config

// Warnings lists what is valid but probably not meant: settings that
// leave sign-in unusable on the hosts users will use, or that do nothing.
// Each starts with the variable's name. `portcullis check` prints them and
// the server logs them at start-up. Like validate, it is pure.
func (c *Config) Warnings() []string {
	var out []string
	n := func(suffix string) string { return Prefix + suffix }
	switch {
	case c.PublicURL == nil && len(c.AllowedHosts) == 0:
		out = append(out, n("PUBLIC_URL")+": not set, and neither is "+n("ALLOWED_HOSTS")+
			": Portcullis signs users in only on loopback hosts (localhost, 127.0.0.1, [::1]) and the hosts of the providers' REDIRECT_URL;"+
			" on any other host the sign-in pages answer 400. Set "+n("PUBLIC_URL")+" to the URL users reach Portcullis on")
	case c.PublicURL != nil && len(c.AllowedHosts) > 0:
		out = append(out, n("ALLOWED_HOSTS")+": ignored, because "+n("PUBLIC_URL")+" is set: every URL Portcullis builds is on it")
	}
	return out
}
