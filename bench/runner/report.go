package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints the medians as a Markdown table, then the targets.
// A ratio is the median of the per-round ratios: each round's run of a
// target against the same round's run of the bare proxy, made moments
// apart, so that a shared machine's drift between rounds cancels out.
func report(w io.Writer, targets []*target, f flags) {
	median := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	rps := func(r result) float64 { return r.rps }
	p50 := func(r result) float64 { return float64(r.p50) }
	p99 := func(r result) float64 { return float64(r.p99) }
	cpu := func(r result) float64 { return float64(r.serverCPU) }
	wrkCPU := func(r result) float64 { return float64(r.wrkCPU) }
	var bare *target
	for _, t := range targets {
		if t.name == "bare Go proxy" {
			bare = t
		}
	}
	med := func(t *target, get func(result) float64) float64 {
		v := make([]float64, len(t.runs))
		for i, r := range t.runs {
			v[i] = get(r)
		}
		return median(v)
	}
	ratio := func(t *target, get func(result) float64) float64 {
		v := make([]float64, len(t.runs))
		for i, r := range t.runs {
			v[i] = get(r) / get(bare.runs[i])
		}
		return median(v)
	}
	fmt.Fprintf(w, "Medians of %d runs of %s each, wrk -t%d -c%d; ×bare is the median of the per-round ratios to the bare Go proxy:\n\n",
		f.rounds, f.duration, f.threads, f.connections)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| target\t req/s\t ×bare\t p50\t ×bare\t p99\t ×bare\t server CPU/req\t ×bare\t wrk CPU/req\t errors\t RSS after\t")
	fmt.Fprintln(tw, "| ---\t ---:\t ---:\t ---:\t ---:\t ---:\t ---:\t ---:\t ---:\t ---:\t ---:\t ---:\t")
	for _, t := range targets {
		errs := 0
		for _, r := range t.runs {
			errs += r.errors
		}
		rss, serverCPU, cpuRatio := "—", "—", "—"
		if t.server != nil {
			rss = t.server.rss()
			serverCPU = fmtDur(time.Duration(med(t, cpu)))
			cpuRatio = fmt.Sprintf("%.2f", ratio(t, cpu))
		}
		fmt.Fprintf(tw, "| %s\t %.0f\t %.2f\t %s\t %.2f\t %s\t %.2f\t %s\t %s\t %s\t %d\t %s\t\n", t.name,
			med(t, rps), ratio(t, rps),
			fmtDur(time.Duration(med(t, p50))), ratio(t, p50),
			fmtDur(time.Duration(med(t, p99))), ratio(t, p99),
			serverCPU, cpuRatio, fmtDur(time.Duration(med(t, wrkCPU))),
			errs, rss)
	}
	tw.Flush() // with tabwriter.Debug the columns are '|'-separated: a Markdown table

	fmt.Fprintln(w)
	check := func(what string, got, limit float64, atLeast bool) {
		ok, op := got >= limit, "≥"
		if !atLeast {
			ok, op = got <= limit, "≤"
		}
		verdict := "met"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(w, "%-40s %.2f× bare (target %s %.2f×): %s\n", what, got, op, limit, verdict)
	}
	byName := make(map[string]*target, len(targets))
	for _, t := range targets {
		byName[t.name] = t
	}
	for _, t := range targets {
		if o := byName[t.versus]; o != nil {
			// The per-round ratios to the other target, as to the bare proxy.
			v := make([]float64, len(t.runs))
			for i, r := range t.runs {
				v[i] = r.rps / o.runs[i].rps
			}
			limit := t.versusTarget
			if limit == 0 {
				limit = 0.9
			}
			got, verdict := median(v), "met"
			if got < limit {
				verdict = "MISSED"
			}
			fmt.Fprintf(w, "%-40s %.2f× %s (target ≥ %.2f×): %s\n", t.name+" requests/s", got, t.versus, limit, verdict)
		}
		switch t.name {
		case "Portcullis proxied":
			check("Portcullis proxied requests/s", ratio(t, rps), 0.85, true)
			check("Portcullis proxied p99", ratio(t, p99), 1.2, false)
			fmt.Fprintf(w, "%-40s %.2f× bare: the auth layer costs %s of CPU a request\n", "Portcullis proxied CPU/request",
				ratio(t, cpu), fmtDur(time.Duration(med(t, cpu)-med(bare, cpu))))
		case "Portcullis /oauth2/auth":
			check("Portcullis /oauth2/auth requests/s", ratio(t, rps), 2, true)
			check("Portcullis /oauth2/auth p99", ratio(t, p99), 1.2, false)
		}
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 10*time.Microsecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
