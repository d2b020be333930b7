package config

import (
	"reflect"
	"strings"
	"testing"
)

// The listener, path and page settings of issue 14: their defaults, what
// they accept, and the problems they report.

func TestListenerDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, minimal())
	tests := []struct {
		name      string
		got, want any
	}{
		{"PORTCULLIS_PROXY_PREFIX", c.ProxyPrefix, "/oauth2"},
		{"PORTCULLIS_PING_PATH", c.PingPath, "/ping"},
		{"PORTCULLIS_READY_PATH", c.ReadyPath, "/ready"},
		{"PORTCULLIS_TLS_CERT_FILE", c.TLSCertFile, ""},
		{"PORTCULLIS_TLS_KEY_FILE", c.TLSKeyFile, ""},
		{"PORTCULLIS_TLS_MIN_VERSION", c.TLSMinVersion, "1.2"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v; want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestListenerSettingsAccepted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"prefix", with(minimal(), "PORTCULLIS_PROXY_PREFIX", "/sso")},
		{"prefix of two segments", with(minimal(), "PORTCULLIS_PROXY_PREFIX", "/_auth/v1")},
		{"health checks elsewhere", with(minimal(), "PORTCULLIS_PING_PATH", "/healthz", "PORTCULLIS_READY_PATH", "/-/ready")},
		{"health checks off", with(minimal(), "PORTCULLIS_PING_PATH", "off", "PORTCULLIS_READY_PATH", "off")},
		{"Unix socket", with(minimal(), "PORTCULLIS_LISTEN", "unix:/run/portcullis/portcullis.sock")},
		{"Unix socket, relative", with(minimal(), "PORTCULLIS_LISTEN", "unix:portcullis.sock")},
		{"TLS on a Unix socket", with(minimal(), "PORTCULLIS_LISTEN", "unix:/run/p.sock", "PORTCULLIS_TLS_CERT_FILE", "/etc/tls/tls.crt", "PORTCULLIS_TLS_KEY_FILE", "/etc/tls/tls.key")},
		{"TLS", with(minimal(), "PORTCULLIS_TLS_CERT_FILE", "/etc/tls/tls.crt", "PORTCULLIS_TLS_KEY_FILE", "/etc/tls/tls.key", "PORTCULLIS_TLS_MIN_VERSION", "1.3")},
		{"health check where the default prefix was", with(minimal(), "PORTCULLIS_PROXY_PREFIX", "/sso", "PORTCULLIS_PING_PATH", "/oauth2/ping")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Load(getenv(tt.env)); err != nil {
				t.Errorf("Load() error:\n%v\nwant none", err)
			}
		})
	}
}

func TestListenerSettingsProblems(t *testing.T) {
	t.Parallel()
	const rule = "starting with /, not ending with /, segments of letters, digits and -._~!$&'()*+,;=:@, none empty, . or .."
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"prefix /", with(minimal(), "PORTCULLIS_PROXY_PREFIX", "/"),
			[]string{`PORTCULLIS_PROXY_PREFIX: must be a path like /oauth2: ` + rule + `, got "/"`}},
		{"prefix with a slash at the end", with(minimal(), "PORTCULLIS_PROXY_PREFIX", "/oauth2/"),
			[]string{`PORTCULLIS_PROXY_PREFIX: must be a path like /oauth2: ` + rule + `, got "/oauth2/"`}},
		{"prefix relative", with(minimal(), "PORTCULLIS_PROXY_PREFIX", "oauth2"),
			[]string{`PORTCULLIS_PROXY_PREFIX: must be a path like /oauth2: ` + rule + `, got "oauth2"`}},
		{"prefix tricks", with(minimal(), "PORTCULLIS_PROXY_PREFIX", "/a/../b", "PORTCULLIS_PING_PATH", "/{x}", "PORTCULLIS_READY_PATH", "/a%2Fb"),
			[]string{
				`PORTCULLIS_PING_PATH: must be a path like /ping, or off: ` + rule + `, got "/{x}"`,
				`PORTCULLIS_PROXY_PREFIX: must be a path like /oauth2: ` + rule + `, got "/a/../b"`,
				`PORTCULLIS_READY_PATH: must be a path like /ping, or off: ` + rule + `, got "/a%2Fb"`,
			}},
		{"health checks under the prefix", with(minimal(), "PORTCULLIS_PING_PATH", "/oauth2/ping", "PORTCULLIS_READY_PATH", "/oauth2"),
			[]string{
				`PORTCULLIS_PING_PATH: "/oauth2/ping" is under PORTCULLIS_PROXY_PREFIX ("/oauth2"), where Portcullis's own endpoints are`,
				`PORTCULLIS_READY_PATH: "/oauth2" is under PORTCULLIS_PROXY_PREFIX ("/oauth2"), where Portcullis's own endpoints are`,
			}},
		{"Unix socket without a path", with(minimal(), "PORTCULLIS_LISTEN", "unix:"),
			[]string{"PORTCULLIS_LISTEN: unix: needs a socket's path (unix:/run/portcullis/portcullis.sock)"}},
		{"Unix socket path too long", with(minimal(), "PORTCULLIS_LISTEN", "unix:/"+strings.Repeat("a", 103)),
			[]string{"PORTCULLIS_LISTEN: a Unix socket's path must be at most 103 bytes, got 104: choose a shorter one"}},
		{"metrics on a Unix socket", with(minimal(), "PORTCULLIS_METRICS_LISTEN", "unix:/run/m.sock"),
			[]string{`PORTCULLIS_METRICS_LISTEN: must be host:port (":9180") or off, got "unix:/run/m.sock"`}},
		{"certificate without key", with(minimal(), "PORTCULLIS_TLS_CERT_FILE", "/etc/tls/tls.crt"),
			[]string{"PORTCULLIS_TLS_KEY_FILE: required with PORTCULLIS_TLS_CERT_FILE"}},
		{"key without certificate, bad version", with(minimal(), "PORTCULLIS_TLS_KEY_FILE", "/etc/tls/tls.key", "PORTCULLIS_TLS_MIN_VERSION", "TLS1.3"),
			[]string{
				"PORTCULLIS_TLS_CERT_FILE: required with PORTCULLIS_TLS_KEY_FILE",
				`PORTCULLIS_TLS_MIN_VERSION: must be 1.2 or 1.3, got "TLS1.3"`,
			}},
		{"health checks on one path", with(minimal(), "PORTCULLIS_PING_PATH", "/health", "PORTCULLIS_READY_PATH", "/health"),
			[]string{`PORTCULLIS_READY_PATH: must differ from PORTCULLIS_PING_PATH ("/health")`}},
		{"health check on the keys", with(minimal(), "PORTCULLIS_READY_PATH", "/.well-known/portcullis/jwks.json"),
			[]string{`PORTCULLIS_READY_PATH: "/.well-known/portcullis/jwks.json" is where Portcullis publishes its assertion keys`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(getenv(tt.env))
			if got := lines(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
