package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// What a hospital's Prometheus and Grafana read of a terminal: every
// metric the alert rules and the dashboard in packaging/monitoring use is
// served by a running agent, with the institution and terminal labels
// they group by; and promtool accepts the rules.
func TestEveryMetricTheFleetMonitoringUsesIsServedWithItsLabels(t *testing.T) {
	const rules, dashboard = "../../packaging/monitoring/medterm-alerts.yml", "../../packaging/monitoring/medterm-dashboard.json"
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: `make setup` installs it (Debian package prometheus)")
	}
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}

	r := newDiskRig(t, t.TempDir()+"/journal.db")
	r.mustStart()
	if out, code := r.cli("reconcile"); code != exitOK {
		t.Fatalf("reconcile: exit %d\n%s", code, out)
	}
	var text string
	if _, err := r.api.Do(context.Background(), "GET", "/metrics", nil, nil, &text); err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the scrape is not Prometheus text: %v", err)
	}

	used := map[string]bool{}
	name := regexp.MustCompile(`\bmedterm_[a-z_]+`)
	for _, f := range []string{rules, dashboard} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllString(string(data), -1) {
			used[m] = true
		}
	}
	if len(used) < 10 {
		t.Fatalf("found %d metric names in the rules and the dashboard: the test no longer reads them", len(used))
	}
	for m := range used {
		f, ok := families[m]
		if !ok || len(f.GetMetric()) == 0 {
			t.Errorf("%s is used by the monitoring but not served", m)
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["institution"] != diskInstitution || labels["terminal"] != "T1" {
				t.Errorf("%s has labels %v; want institution %s and terminal T1", m, labels, diskInstitution)
			}
		}
	}
	// The Go runtime's and the process's metrics carry them too.
	for _, m := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		f, ok := families[m]
		if !ok || len(f.GetMetric()) == 0 {
			t.Errorf("%s is not served", m)
			continue
		}
		var names []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			names = append(names, l.GetName()+"="+l.GetValue())
		}
		if !slices.Contains(names, "institution="+diskInstitution) || !slices.Contains(names, "terminal=T1") {
			t.Errorf("%s has labels %v; want the fleet labels", m, names)
		}
	}
}
