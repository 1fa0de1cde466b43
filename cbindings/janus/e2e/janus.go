package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// janusServer is a Janus process of the test's own: its own configuration
// folder, only the HTTP transport (bound to 127.0.0.1), the trackstats plugin
// and Janus's sample event handler (posting plugin events to the test's
// collector on 127.0.0.1), ICE on 127.0.0.1 only, no STUN, its log in a file.
type janusServer struct {
	cmd     *exec.Cmd
	dir     string
	logPath string
	api     string // http://127.0.0.1:<port>/janus
	exited  chan error
}

type janusOptions struct {
	binary     string // the janus executable
	pluginDir  string // holds only libjanus_trackstats.so
	shim       string // the loopback shim for LD_PRELOAD
	intervalMS int    // the plugin's report window
	eventsURL  string // where the sample event handler posts
}

// findFile returns the first file matching one of the glob patterns.
func findFile(patterns ...string) (string, error) {
	for _, p := range patterns {
		if m, _ := filepath.Glob(p); len(m) > 0 {
			return m[0], nil
		}
	}
	return "", fmt.Errorf("none of %v exists (is Debian's janus package installed?)", patterns)
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startJanus(o janusOptions, dir string) (*janusServer, error) {
	httpTransport, err := findFile("/usr/lib/*/janus/transports/libjanus_http.so", "/usr/lib/janus/transports/libjanus_http.so")
	if err != nil {
		return nil, err
	}
	sampleHandler, err := findFile("/usr/lib/*/janus/events/libjanus_sampleevh.so", "/usr/lib/janus/events/libjanus_sampleevh.so")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf, transports, events, empty := filepath.Join(dir, "conf"), filepath.Join(dir, "transports"),
		filepath.Join(dir, "events"), filepath.Join(dir, "empty")
	for _, d := range []string{conf, transports, events, empty} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// Janus loads every library in these folders: one each.
	if err := os.Symlink(httpTransport, filepath.Join(transports, "libjanus_http.so")); err != nil {
		return nil, err
	}
	if err := os.Symlink(sampleHandler, filepath.Join(events, "libjanus_sampleevh.so")); err != nil {
		return nil, err
	}
	files := map[string]string{
		"janus.jcfg": fmt.Sprintf(`general: {
	configs_folder = "%s"
	plugins_folder = "%s"
	transports_folder = "%s"
	events_folder = "%s"
	loggers_folder = "%s"
	debug_level = 4
	server_name = "trackstats-e2e"
}
certificates: {
}
media: {
}
nat: {
	nice_debug = false
	# Janus itself never gathers on a loopback interface; the shim in
	# LD_PRELOAD makes 127.0.0.1 eligible, and this list makes it the only one.
	ice_enforce_list = "127.0.0.1"
	ignore_mdns = true
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
	broadcast = true
}
`, conf, o.pluginDir, transports, events, empty),
		"janus.transport.http.jcfg": fmt.Sprintf(`general: {
	json = "plain"
	base_path = "/janus"
	http = true
	port = %d
	ip = "127.0.0.1"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
`, port),
		"janus.plugin.trackstats.jcfg": fmt.Sprintf(`general: {
	interval_ms = %d
	events = true
}
`, o.intervalMS),
		"janus.eventhandler.sampleevh.jcfg": fmt.Sprintf(`general: {
	enabled = true
	events = "plugins"
	grouping = true
	json = "plain"
	backend = "%s"
}
`, o.eventsURL),
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	s := &janusServer{dir: dir, logPath: filepath.Join(dir, "janus.log"),
		api: fmt.Sprintf("http://127.0.0.1:%d/janus", port), exited: make(chan error, 1)}
	s.cmd = exec.Command(o.binary, "--configs-folder", conf, "--config", filepath.Join(conf, "janus.jcfg"),
		"--log-file", s.logPath, "--disable-stdout", "--disable-colors", "--interface", "127.0.0.1")
	s.cmd.Env = append(os.Environ(), "LD_PRELOAD="+o.shim)
	// Its own process group, so a stray child cannot outlive the test.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(dir, "janus.out"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		out.Close()
		return nil, err
	}
	go func() { s.exited <- s.cmd.Wait(); out.Close() }()
	return s, nil
}

// waitReady polls GET /janus/info until Janus answers with the plugin loaded.
func (s *janusServer) waitReady(plugin string, timeout time.Duration) error {
	api := newJanusAPI(s.api)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.exited <- err
			return fmt.Errorf("janus exited at start (%v); see %s", err, s.logPath)
		default:
		}
		if info, err := api.info(); err == nil {
			var plugins map[string]json.RawMessage
			if err := json.Unmarshal(info["plugins"], &plugins); err != nil {
				return fmt.Errorf("janus info without plugins: %w", err)
			}
			if _, ok := plugins[plugin]; !ok {
				return fmt.Errorf("janus is up without %s; see %s", plugin, s.logPath)
			}
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("janus did not answer on %s within %v; see %s", s.api, timeout, s.logPath)
}

// stop ends Janus as an operator would (SIGINT: plugins are destroyed, the
// registry closes and its last reports reach the log), then waits.
func (s *janusServer) stop(timeout time.Duration) error {
	if s.cmd.Process == nil {
		return errors.New("janus was not started")
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-s.exited:
		return err
	case <-time.After(timeout):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		return fmt.Errorf("janus did not stop within %v after SIGINT (killed)", timeout)
	}
}
