package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// options are the command-line settings.
type options struct {
	URL           string
	Devices       int
	Duration      time.Duration
	Rounds        int
	Batch         int
	Think         time.Duration
	Lose          float64
	PID           int
	StoreDir      string
	Accounts      string
	Setup         bool
	SetupOnly     bool
	AdminEmail    string
	AdminPassword string
}

// checkLocal refuses any server that is not on this machine.
func checkLocal(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q must look like http://127.0.0.1:8090", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--url %q is not on this machine: tandem-load only targets 127.0.0.1, ::1 or localhost", raw)
}

func (o *options) validate() error {
	if err := checkLocal(o.URL); err != nil {
		return err
	}
	switch {
	case o.Devices < 1:
		return errors.New("--devices must be at least 1")
	case o.Batch < 1 || o.Batch > 1000:
		return errors.New("--batch must be between 1 and 1000")
	case o.Duration <= 0 && o.Rounds <= 0:
		return errors.New("give --duration or --rounds")
	case o.Lose < 0 || o.Lose >= 1:
		return errors.New("--lose must be in [0, 1)")
	case o.Setup && (o.AdminEmail == "" || o.AdminPassword == ""):
		return errors.New("--setup needs --admin-email and --admin-password (or TANDEM_ADMIN_PASSWORD)")
	case o.Accounts == "":
		return errors.New("--accounts must name a file")
	}
	return nil
}
