package stacktest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The browser HIS example (packaging/his/browser), run in Chromium from
// an intranet origin the agent allows: it opens the event stream with a
// ticket and settles a bill. The same page from an origin the agent does
// not know is refused both.

// hisSite serves the example page as the HIS's own server would: its
// files, and the agent's address and token for the page.
func hisSite(t *testing.T, agentURL *string) *httptest.Server {
	t.Helper()
	files := http.FileServer(http.Dir("../../packaging/his/browser"))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/his-config.json" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"agent": *agentURL, "token": hisToken})
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestTheBrowserHISExampleSettlesFromAnAllowedOriginOnly(t *testing.T) {
	var agentURL string
	allowed, foreign := hisSite(t, &agentURL), hisSite(t, &agentURL)
	p := startKioskPage(t, allowed.URL)
	agentURL = p.agent

	p.run(chromedp.Navigate(allowed.URL+"/index.html"), chromedp.WaitVisible(`body[data-stream="open"]`))
	p.run(chromedp.Click("#settle"), chromedp.WaitVisible(`body[data-settled]`))
	if got := value(p, chromedp.Evaluate[string](`document.body.dataset.settled`)); got != "settled" {
		t.Fatalf("from the allowed origin the bill ended %q: %s", got, p.text("#state"))
	}
	// The settlement's state changes reached the page on the stream.
	p.run(chromedp.WaitVisible(`body[data-last-event="settled"]`))
	if log := p.text("#log"); !strings.Contains(log, "settlement.state") {
		t.Errorf("the page's event log: %q", log)
	}

	p.run(chromedp.Navigate(foreign.URL+"/index.html"), chromedp.WaitVisible(`body[data-stream="refused"]`))
	p.run(chromedp.Click("#settle"), chromedp.WaitVisible(`body[data-settled]`))
	if got := value(p, chromedp.Evaluate[string](`document.body.dataset.settled`)); got != "error:network" {
		t.Fatalf("from a foreign origin the bill ended %q; want refused (no CORS answer)", got)
	}
	list, err := p.Stack.API.List(t.Context(), "", 100, false)
	if err != nil || len(list) != 1 {
		t.Fatalf("settlements after both pages: %d (%v); want only the allowed page's", len(list), err)
	}
}
