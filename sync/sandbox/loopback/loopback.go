// Package loopback holds the checks both sandbox counterparties make before
// they answer: a development peer must never be reachable, or steerable,
// from another machine by accident.
package loopback

import (
	"net"
	"net/http"
	"strings"
)

// Host reports whether a Host header names this machine's loopback
// interface: localhost, 127.0.0.0/8 or ::1, with or without a port. Checking
// the Host header as well as the peer keeps a page elsewhere from driving the
// sandbox through the browser (DNS rebinding).
func Host(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AdminOnly answers h only to loopback peers: the admin endpoints switch
// outages, hand out codes and read ledgers.
func AdminOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "admin endpoints answer loopback peers only", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}
