package config

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	t.Parallel()
	const noPublicURL = "PORTCULLIS_PUBLIC_URL: not set, and neither is PORTCULLIS_ALLOWED_HOSTS: Portcullis signs users in only on loopback hosts"
	tests := []struct {
		name string
		env  map[string]string
		want []string // each a warning's beginning
	}{
		{"neither PUBLIC_URL nor ALLOWED_HOSTS", minimal(), []string{noPublicURL}},
		{"PUBLIC_URL", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com"), nil},
		{"ALLOWED_HOSTS", with(minimal(), "PORTCULLIS_ALLOWED_HOSTS", "app.example.com"), nil},
		{"both", with(minimal(), "PORTCULLIS_PUBLIC_URL", "https://app.example.com", "PORTCULLIS_ALLOWED_HOSTS", "app.example.com"),
			[]string{"PORTCULLIS_ALLOWED_HOSTS: ignored, because PORTCULLIS_PUBLIC_URL is set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mustLoad(t, tt.env).Warnings()
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("Warnings() = %q; want %q", got, tt.want)
			}
		})
	}
}
