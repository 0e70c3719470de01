package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDeployMonitoringFiles checks the Grafana dashboard and the Prometheus
// alert rules in deploy/: they parse, every rule is complete, and every
// Switchboard series they query is one a running all-in-one exposes.
func TestDeployMonitoringFiles(t *testing.T) {
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	b, err := os.ReadFile("../../../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %+v lacks a name, an expression, a severity or a summary", r)
			}
			exprs = append(exprs, r.Expr)
		}
	}

	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	b, err = os.ReadFile("../../../../deploy/grafana/switchboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("switchboard.json: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	if len(rules.Groups) == 0 || len(dash.Panels) == 0 {
		t.Fatal("no rules or no panels")
	}

	exposed := scrapeAllInOne(t)
	name := regexp.MustCompile(`switchboard_[a-z_]+`)
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			if !exposed[n] {
				t.Errorf("%q queries %s, which the all-in-one does not expose", e, n)
			}
		}
	}
}

// scrapeAllInOne runs the all-in-one with a monitoring listener and returns
// the names of the series on its /metrics.
func scrapeAllInOne(t testing.TB) map[string]bool {
	t.Helper()
	out, _ := startDev(t, map[string]string{"SWITCHBOARD_METRICS_ADDR": "127.0.0.1:0"})
	addr := regexp.MustCompile(`metrics: +(http://\S+/metrics)`)
	if !addr.MatchString(out.String()) {
		t.Fatalf("no metrics address in the banner:\n%s", out.String())
	}
	resp, err := http.Get(addr.FindStringSubmatch(out.String())[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		n, _, _ := strings.Cut(line, "{")
		n, _, _ = strings.Cut(n, " ")
		names[n] = true
	}
	return names
}
