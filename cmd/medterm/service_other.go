//go:build !windows

package main

import (
	"errors"
	"log/slog"
)

var errNoWindowsService = errors.New("the Windows service exists on Windows only; on Linux the package's systemd unit runs the daemon: systemctl start|stop|status medterm")

// runService: only Windows has a service control manager to start us.
func runService() (code int, ran bool) { return 0, false }

// platformLog: on Linux, stderr is the systemd journal already.
func platformLog() slog.Handler { return nil }

func installService(string) error { return errNoWindowsService }
func uninstallService() error     { return errNoWindowsService }
func controlService(bool) error   { return errNoWindowsService }

// defaultConfigPath is where the Debian package installs it.
func defaultConfigPath() string { return "/etc/medterm/medterm.toml" }
