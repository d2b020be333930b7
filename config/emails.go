package config

import "errors"

// ParseAllowedEmails reads the content of ALLOWED_EMAILS_FILE as Load
// does: one address a line or a comma list, blank lines and lines
// starting with # left out, a byte order mark at the start ignored. The
// error names the variable and every entry that is not one bare address;
// a file that lists none is no error (it admits no one by address). main
// reads the file again with it whenever it changes.
func ParseAllowedEmails(content string) ([]string, error) {
	addrs := splitList(listFile(content))
	var errs []error
	for _, a := range addrs {
		if !isEmail(a) {
			errs = append(errs, problemf(Prefix+"ALLOWED_EMAILS_FILE", "%q is not an e-mail address", a))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return addrs, nil
}
