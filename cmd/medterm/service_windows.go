//go:build windows

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// serviceAccount runs the service: a built-in account with no password
// to keep, no rights beyond the ACLs that the MSI (or service install)
// gives it on %ProgramData%\medterm.
const serviceAccount = `NT AUTHORITY\LocalService`

// elog is the event log while running as a service; nil otherwise.
var elog *eventlog.Log

// runService runs the command line the service control manager started
// (serve --config ...) as the service, if it did start this process.
func runService() (code int, ran bool) {
	isService, err := svc.IsWindowsService()
	if err != nil || !isService {
		return 0, false
	}
	if l, err := eventlog.Open(serviceName); err == nil {
		elog = l
		defer l.Close()
	}
	h := &serviceHandler{}
	if err := svc.Run(serviceName, h); err != nil {
		if elog != nil {
			_ = elog.Error(eventError, "medterm service: "+err.Error())
		}
		return exitFailure, true
	}
	return h.code, true
}

// platformLog is the event log handler while running as a service.
func platformLog() slog.Handler {
	if elog == nil {
		return nil
	}
	return newEventHandler(elog, slog.LevelInfo)
}

type serviceHandler struct{ code int }

// Execute runs the daemon until the service control manager asks it to
// stop; the journal is written before anything is answered or sent, so a
// stop loses nothing and the requests in flight finish first.
func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		root := newRoot()
		root.SetArgs(os.Args[1:])
		done <- report(root, root.ExecuteContext(ctx))
	}()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case h.code = <-done:
			// The daemon ended by itself (a configuration error, say): the
			// exit code tells the recovery actions to restart it.
			return h.code != 0, uint32(h.code)
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending, WaitHint: 60_000}
				cancel()
				h.code = <-done
				return false, 0
			}
		}
	}
}

// installService registers the service, its event source and its
// recovery actions (restart after 5 s, as the systemd unit does).
func installService(configPath string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	exe, err = filepath.Abs(exe)
	if err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("%w (run as an administrator)", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("the service %s is already installed", serviceName)
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: serviceDisplayName, Description: serviceDescription,
		StartType: mgr.StartAutomatic, ServiceStartName: serviceAccount,
	}, "serve", "--config", configPath)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
	}, 24*60*60); err != nil {
		return err
	}
	// An event source left by an earlier install (or the MSI's) is kept.
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil && !strings.Contains(err.Error(), "exists") {
		return err
	}
	return nil
}

func uninstallService() error {
	return withService(func(s *mgr.Service) error {
		_, _ = s.Control(svc.Stop)
		if err := s.Delete(); err != nil {
			return err
		}
		_ = eventlog.Remove(serviceName)
		return nil
	})
}

func controlService(start bool) error {
	return withService(func(s *mgr.Service) error {
		if start {
			return s.Start()
		}
		_, err := s.Control(svc.Stop)
		return err
	})
}

// withService runs fn on the installed service, through the service
// control manager.
func withService(fn func(*mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("%w (run as an administrator)", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("the service %s is not installed", serviceName)
	}
	defer s.Close()
	return fn(s)
}

// defaultConfigPath is %ProgramData%\medterm\medterm.toml, where the MSI
// installs it.
func defaultConfigPath() string { return filepath.Join(programData(), "medterm", "medterm.toml") }

func programData() string {
	if d := os.Getenv("ProgramData"); d != "" {
		return d
	}
	return `C:\ProgramData`
}
