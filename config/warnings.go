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
	return w
}
