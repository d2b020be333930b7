package config

// Warnings lists what c allows but what is risky, one sentence each,
// starting with the variable: `portcullis check` prints them and serve
// logs them at start-up. Like validate, it is pure.
func (c *Config) Warnings() []string {
	var w []string
	if c.UserFrom == "username" {
		w = append(w, Prefix+"USER_FROM=username: X-User is the username claim, which many providers let users choose or change "+
			"(preferred_username is mutable at Microsoft; a GitHub login can be renamed and then registered by someone else), "+
			"so two people can get the same X-User over time; auto, email and id never give two people the same X-User")
	}
	if c.BearerAllowUnbound {
		w = append(w, Prefix+"BEARER_ALLOW_UNBOUND=true: an opaque token of a provider with no introspection endpoint "+
			"(and no check of its own) is accepted whenever its userinfo URL accepts it, including tokens the provider "+
			"issued to other apps: anyone holding a user's token for any app (one the user once authorised, a personal "+
			"access token) gets in as that user. Prefer INTROSPECTION_URL or JWT access tokens")
	}
	return w
}
