package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/config"
)

// examplesDir holds the ingress and deployment examples. examples/providers
// has its own checks.
const examplesDir = "examples"

// exampleEnvs are the Portcullis settings of each runnable example: its
// environment files first, then the variables its manifests set, later
// ones winning. Secrets taken from a Kubernetes Secret get a stand-in.
var exampleEnvs = map[string][]string{
	"docker-compose": {"docker-compose/portcullis.env", "docker-compose/docker-compose.yml"},
	"traefik":        {"docker-compose/portcullis.env", "traefik/compose.yml"},
	"caddy":          {"docker-compose/portcullis.env", "caddy/compose.yml"},
	"envoy":          {"docker-compose/portcullis.env", "envoy/compose.yml"},
	"kubernetes":     {"kubernetes/portcullis-sidecar.yaml"},
	"ingress-nginx":  {"ingress-nginx/ingress.yaml"},
	"templates":      {"docker-compose/portcullis.env", "templates/portcullis.env"},
	"upstreams":      {"upstreams/portcullis.env"},
}

// exampleDirs are the directories the examples' file:// upstreams name,
// and the directory of the repository that stands in for each.
var exampleDirs = map[string]string{
	"file:///srv/site/": "upstreams/site",
}

var (
	envFileLine   = regexp.MustCompile(`^(PORTCULLIS_[A-Z0-9_]+)=(.*)$`)
	composeLine   = regexp.MustCompile(`^\s+(PORTCULLIS_[A-Z0-9_]+):\s*(.*)$`)
	k8sName       = regexp.MustCompile(`^\s*-\s+name:\s*(PORTCULLIS_[A-Z0-9_]+)\s*$`)
	k8sValue      = regexp.MustCompile(`^\s*value:\s*(.*)$`)
	k8sFlow       = regexp.MustCompile(`\{name:\s*(PORTCULLIS_[A-Z0-9_]+),\s*value:\s*("[^"]*"|[^}]*)\}`)
	k8sFlowFrom   = regexp.MustCompile(`-\s+name:\s*(PORTCULLIS_[A-Z0-9_]+)\s*$`)
	settingName   = regexp.MustCompile(`PORTCULLIS_[A-Z0-9_]*[A-Z0-9]`)
	secretStandIn = map[string]string{
		"PORTCULLIS_COOKIE_SECRET": "a-stand-in-cookie-secret-of-32-bytes",
		"PORTCULLIS_CLIENT_SECRET": "a-stand-in-client-secret",
	}
)

// unquote strips a trailing comment and YAML quotes from a value.
func unquote(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) {
		if end := strings.Index(v[1:], `"`); end >= 0 {
			return v[1 : end+1]
		}
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return strings.Trim(v, `'`)
}

// readSettings returns the PORTCULLIS_ variables set in file, an env file
// or a compose or Kubernetes manifest. A variable whose value comes from a
// Kubernetes Secret (valueFrom) gets a stand-in.
func readSettings(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(examplesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	pending := "" // a "- name:" waiting for its value on the next line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if pending != "" {
			if m := k8sValue.FindStringSubmatch(line); m != nil {
				env[pending] = unquote(m[1])
			} else if strings.Contains(line, "valueFrom:") {
				env[pending] = secretStandIn[pending]
			}
			pending = ""
			continue
		}
		switch {
		case envFileLine.MatchString(line):
			m := envFileLine.FindStringSubmatch(line)
			env[m[1]] = m[2]
		case k8sFlow.MatchString(line):
			m := k8sFlow.FindStringSubmatch(line)
			env[m[1]] = unquote(m[2])
		case k8sName.MatchString(line):
			pending = k8sName.FindStringSubmatch(line)[1]
		case k8sFlowFrom.MatchString(line):
			pending = k8sFlowFrom.FindStringSubmatch(line)[1]
		case composeLine.MatchString(line):
			m := composeLine.FindStringSubmatch(line)
			env[m[1]] = unquote(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// TestExampleSettingsLoad loads each example's Portcullis settings as
// serve and check do (loadConfig: the configuration loader and each
// provider's settings checked against its preset): every value parses and
// validates, and every variable the example sets is one Portcullis reads.
// Files named by _FILE variables are replaced by stand-ins.
func TestExampleSettingsLoad(t *testing.T) {
	t.Parallel()
	for name, files := range exampleEnvs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for _, f := range files {
				for k, v := range readSettings(t, f) {
					env[k] = v
				}
			}
			if len(env) < 5 {
				t.Fatalf("found only %d settings in %v: %v", len(env), files, env)
			}
			dir := t.TempDir()
			for k := range env {
				base, ok := strings.CutSuffix(k, "_FILE")
				if !ok {
					continue
				}
				path := filepath.Join(dir, base)
				if err := os.WriteFile(path, []byte(secretStandIn[base]+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				env[k] = path
			}
			for dir, standIn := range exampleDirs {
				abs, err := filepath.Abs(filepath.Join(examplesDir, standIn))
				if err != nil {
					t.Fatal(err)
				}
				env["PORTCULLIS_UPSTREAM"] = strings.ReplaceAll(env["PORTCULLIS_UPSTREAM"], dir, "file://"+abs+"/")
			}
			asked := map[string]bool{}
			_, err := loadConfig(func(k string) string {
				asked[k] = true
				return env[k]
			})
			if err != nil {
				t.Errorf("%v: the settings do not load:\n%v", files, err)
			}
			for k := range env {
				if !asked[k] {
					t.Errorf("%v sets %s, which Portcullis does not read", files, k)
				}
			}
		})
	}
}

// testVariables are read by the tests, not by Portcullis.
var testVariables = []string{"PORTCULLIS_WRK", "PORTCULLIS_WRK_DURATION", "PORTCULLIS_NGINX", "PORTCULLIS_CHROMIUM", "PORTCULLIS_SCREENSHOTS"}

// TestExamplesNameRealSettings checks that every PORTCULLIS_ variable the
// examples and their READMEs mention, anywhere, is one Portcullis reads.
func TestExamplesNameRealSettings(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, name := range testVariables {
		known[name] = true
	}
	config.Load(func(k string) string {
		known[k] = true
		if k == "PORTCULLIS_PROVIDER" {
			return "oauth2"
		}
		return ""
	})
	if len(known) < 40 {
		t.Fatalf("the loader asked for only %d variables", len(known))
	}
	var files []string
	filepath.WalkDir(examplesDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "providers" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("found only %d example files: %v", len(files), files)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var unknown []string
		for _, name := range settingName.FindAllString(string(b), -1) {
			if !known[name] && !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) > 0 {
			t.Errorf("%s names %v, which Portcullis does not read", path, unknown)
		}
	}
}
