// Command e2e is the Janus end-to-end test of trackstats (make test-janus):
// it starts Janus on the loopback with the janus.plugin.trackstats echo
// plugin, connects a pion/webrtc client through Janus's HTTP API, sends RTP
// (Opus- and VP8-sized packets) and data-channel messages for a few seconds,
// hangs up, stops Janus, and checks what trackstats reported against what
// the client counted:
//
//   - UPSTREAM of each stream = what the client sent: RTP packets, header
//     and payload as they were before SRTP (Janus hands the plugin the same
//     bytes after SRTP), and data-channel payload bytes;
//   - DOWNSTREAM = what the client received back: RTP packets after SRTP,
//     header and payload, and data-channel payload bytes;
//
// summed from the report lines the registry's sink wrote to Janus's log
// (every report, including those of the shutdown's registry close), summed
// from the report events Janus's sample event handler posted to the test, and
// from the Prometheus text the plugin returns on request (by direction). The
// video frames and the loss in the log come from RTP sequence numbers and
// marker bits. It exits non-zero on any difference.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"
)

var verbose bool

const (
	pluginPackage = "janus.plugin.trackstats"
	participant   = "PA_e2e"
	country       = "DE"
)

func main() {
	var o janusOptions
	flag.StringVar(&o.binary, "janus", "janus", "the Janus executable")
	flag.StringVar(&o.pluginDir, "plugins", "", "folder holding only libjanus_trackstats.so")
	flag.StringVar(&o.shim, "shim", "", "the loopback shim for Janus's LD_PRELOAD")
	flag.IntVar(&o.intervalMS, "interval-ms", 1000, "the plugin's report window")
	dir := flag.String("dir", "", "a fresh folder for Janus's configuration and log")
	duration := flag.Duration("duration", 4*time.Second, "how long the client sends")
	flag.BoolVar(&verbose, "v", false, "print the offer and the answer")
	flag.Parse()
	if o.pluginDir == "" || o.shim == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: e2e -plugins DIR -shim FILE -dir DIR [-janus PATH] [-duration 4s]")
		os.Exit(2)
	}
	if err := run(o, *dir, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "janus e2e: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("janus e2e: trackstats' UPSTREAM and DOWNSTREAM match what the client sent and received: OK")
}

func run(o janusOptions, dir string, duration time.Duration) (err error) {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if o.pluginDir, err = filepath.Abs(o.pluginDir); err != nil {
		return err
	}
	if o.shim, err = filepath.Abs(o.shim); err != nil {
		return err
	}
	events, err := startCollector()
	if err != nil {
		return err
	}
	defer events.srv.Close()
	o.eventsURL = events.url
	server, err := startJanus(o, dir)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = server.stop(20 * time.Second)
		}
	}()
	if err := server.waitReady(pluginPackage, 20*time.Second); err != nil {
		return err
	}

	client, metricsText, err := drive(server.api, duration)
	if err != nil {
		return fmt.Errorf("%w (Janus's log: %s)", err, server.logPath)
	}
	stopped = true
	if err := server.stop(20 * time.Second); err != nil {
		return fmt.Errorf("stopping janus: %w", err)
	}
	logged, err := parseLog(server.logPath, participant, country)
	if err != nil {
		return err
	}
	fmt.Printf("janus e2e: %v of RTP and data channel through Janus, %d ms windows; Janus's log: %s\n",
		duration, o.intervalMS, server.logPath)
	bad := compare("trackstats reports in Janus's log", client, logged, true)
	evented, malformed := events.snapshot()
	bad = append(bad, malformed...)
	bad = append(bad, compare("trackstats reports as Janus events", client, evented, false)...)
	want := wantTotals(client)
	got := promTotals(metricsText, country)
	fmt.Printf("prometheus (country=%q): incoming %d bytes / %d messages, outgoing %d / %d; client: sent %d / %d, received %d / %d\n",
		country, got["bytes incoming"], got["messages incoming"], got["bytes outgoing"], got["messages outgoing"],
		want["bytes incoming"], want["messages incoming"], want["bytes outgoing"], want["messages outgoing"])
	if !reflect.DeepEqual(got, want) {
		bad = append(bad, "the Prometheus totals differ from the client's")
	}
	if len(bad) > 0 {
		return errors.New(fmt.Sprint(len(bad), " mismatches: ", bad))
	}
	return nil
}

// drive runs the client against Janus: connect, send, wait for the echo,
// hang up (the plugin closes the tracks), read the Prometheus text once it
// has every byte. Returns the client's counts by track id and that text.
func drive(base string, duration time.Duration) (map[string]streamCounts, string, error) {
	api := newJanusAPI(base)
	if err := api.createSession(); err != nil {
		return nil, "", err
	}
	ended := false
	defer func() {
		if !ended {
			api.abort()
		}
	}()
	media, events, err := api.attach(pluginPackage)
	if err != nil {
		return nil, "", err
	}
	control, _, err := api.attach(pluginPackage)
	if err != nil {
		return nil, "", err
	}
	p, err := newPeer()
	if err != nil {
		return nil, "", err
	}
	defer p.pc.Close()
	offer, ids, err := p.offer()
	if err != nil {
		return nil, "", err
	}
	if _, err := api.message(media, map[string]any{"request": "start", "participant": participant, "country": country}, offer); err != nil {
		return nil, "", err
	}
	reply, err := await(events, "event", 15*time.Second)
	if err != nil {
		return nil, "", err
	}
	if reply.JSEP == nil {
		return nil, "", fmt.Errorf("start: no answer: %s", reply.PluginData.Data)
	}
	if verbose {
		fmt.Printf("offer:\n%s\nanswer:\n%s\n", offer.SDP, reply.JSEP.SDP)
	}
	if err := p.answer(reply.JSEP); err != nil {
		return nil, "", err
	}
	if err := p.waitConnected(15 * time.Second); err != nil {
		return nil, "", err
	}
	if _, err := await(events, "webrtcup", 10*time.Second); err != nil {
		return nil, "", err
	}
	if err := p.send(duration); err != nil {
		return nil, "", err
	}
	if !p.waitEchoed(5 * time.Second) {
		fmt.Println("janus e2e: note: not every packet came back; DOWNSTREAM is compared with what did")
	}
	// Detaching hangs up and destroys the plugin session: its tracks close
	// and their final reports follow within milliseconds.
	if err := api.detach(media); err != nil {
		return nil, "", err
	}
	client := p.snapshot(ids)
	want := wantTotals(client)
	var text string
	for deadline := time.Now().Add(5 * time.Second); ; {
		if text, err = metrics(api, control); err != nil {
			return nil, "", err
		}
		if reflect.DeepEqual(promTotals(text, country), want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ended = true
	if err := api.end(control); err != nil {
		return nil, "", err
	}
	return client, text, nil
}

// metrics asks the plugin for the Prometheus text (a synchronous request).
func metrics(api *janusAPI, handle uint64) (string, error) {
	m, err := api.message(handle, map[string]any{"request": "metrics"}, nil)
	if err != nil {
		return "", err
	}
	var d struct {
		Trackstats string `json:"trackstats"`
		Text       string `json:"text"`
		Error      string `json:"error"`
	}
	if err := json.Unmarshal(m.PluginData.Data, &d); err != nil || d.Trackstats != "metrics" {
		return "", fmt.Errorf("metrics request: %s %s", m.PluginData.Data, d.Error)
	}
	return d.Text, nil
}
