package tslivekit

import (
	"math"

	"github.com/livekit/protocol/livekit"
	"github.com/trackstats/trackstats/cbindings/go/trackstats"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Listener is the part of LiveKit's types.ParticipantTelemetryListener that
// takes stats; K is LiveKit's telemetry.StatsKey. Any LiveKit telemetry
// listener is one.
type Listener[K any] interface {
	OnTrackStats(key K, stat *livekit.AnalyticsStat)
}

// KeyFunc has the shape of LiveKit's telemetry.StatsKeyForData, the key
// constructor LiveKit's BytesTrackStats uses; pass that function.
type KeyFunc[K any] func(country string, streamType livekit.StreamType, participantID livekit.ParticipantID, trackID livekit.TrackID) K

// StreamType is LiveKit's stream type of a report's direction: the receive
// side (trackstats.Up) is UPSTREAM, the send side (trackstats.Down)
// DOWNSTREAM; no other direction reaches a report, and any other value is
// UPSTREAM.
func StreamType(d trackstats.Direction) livekit.StreamType {
	if d == trackstats.Down {
		return livekit.StreamType_DOWNSTREAM
	}
	return livekit.StreamType_UPSTREAM
}

// maxStatCount is the largest count a stat carries: LiveKit's stats worker
// drops a whole stat whose uint32 counts read negative as int32
// (telemetry's isValid), so counts saturate below that.
const maxStatCount = math.MaxInt32

func statCount(n uint64) uint32 { return uint32(min(n, maxStatCount)) }

// ToAnalyticsStat converts one report to the stat LiveKit's BytesTrackStats
// sends: one stream with PrimaryBytes and PrimaryPackets (bytes and
// messages), and what LiveKit leaves empty there: StartTime and EndTime (the
// window), and for data tracks' UPSTREAM reports (RecordUpPacket or
// AddDataPacket) PacketsOutOfOrder, Frames and PacketsLost, the net loss
// loss gives for this window. loss is the track's own (nil: PacketsLost 0).
// Counts saturate at 2^31-1 per stat (see maxStatCount). A nil r gives nil.
func ToAnalyticsStat(r *trackstats.Report, loss *NetLoss) *livekit.AnalyticsStat {
	if r == nil {
		return nil
	}
	stream := &livekit.AnalyticsStream{
		PrimaryBytes:      min(r.Bytes, math.MaxInt64),
		PrimaryPackets:    statCount(r.Messages),
		StartTime:         timestamppb.New(r.Start),
		EndTime:           timestamppb.New(r.End),
		PacketsOutOfOrder: statCount(r.PacketsOutOfOrder),
		Frames:            statCount(r.Frames),
	}
	if loss != nil {
		stream.PacketsLost = loss.Next(r)
	}
	return &livekit.AnalyticsStat{Streams: []*livekit.AnalyticsStream{stream}}
}

// NetLoss turns a track's per-window loss counts into LiveKit's net loss
// ("lost" less the late packets that filled a gap), window by window,
// without ever reporting a negative window: a report carries lost and
// recovered apart, and a packet counted lost in one window can be recovered
// in a later one. Each window reports how far the track's cumulative net
// loss rose above what was reported before, so the reported windows add up
// to the highest net loss the track reached: its final net loss, unless
// packets were recovered after their loss had been reported. The zero value
// is ready; one per track, fed its reports in order (one goroutine, as a
// registry delivers them).
type NetLoss struct {
	lost, recovered, reported uint64
}

// Next is r's window's net loss (0 for a report without loss counts, a nil
// r or a nil NetLoss, which keeps nothing).
func (n *NetLoss) Next(r *trackstats.Report) uint32 {
	if n == nil || r == nil {
		return 0
	}
	n.lost += r.PacketsLost
	n.recovered += r.PacketsRecovered
	// Recoveries never outnumber losses with one writer per track; with
	// several the library's counts may, and the net is then 0.
	net := n.lost - min(n.recovered, n.lost)
	if net <= n.reported {
		return 0
	}
	// What is over the saturation is left for later windows.
	d := statCount(net - n.reported)
	n.reported += uint64(d)
	return d
}

// sink is where a stats object's stats go: LiveKit's listener with its
// keys. Non-generic, so that a BytesTrackStats is one type whatever the key.
type sink interface {
	send(r *trackstats.Report, stat *livekit.AnalyticsStat)
}

type telemetrySink[K any] struct {
	l   Listener[K]
	key KeyFunc[K]
}

func (t *telemetrySink[K]) send(r *trackstats.Report, stat *livekit.AnalyticsStat) {
	k := t.key(r.Country, StreamType(r.Direction), livekit.ParticipantID(r.ParticipantID), livekit.TrackID(r.TrackID))
	t.l.OnTrackStats(k, stat)
}

// newSink is l with keys from key, or nil (stats are dropped) when either is
// nil.
func newSink[K any](l Listener[K], key KeyFunc[K]) sink {
	if l == nil || key == nil {
		return nil
	}
	return &telemetrySink[K]{l: l, key: key}
}

// Adapt is a trackstats.ReportListener that sends each report of one track
// to LiveKit's listener l as LiveKit's BytesTrackStats would:
// l.OnTrackStats(key(country, UPSTREAM or DOWNSTREAM, participant, track),
// ToAnalyticsStat(report)). For a host that opens tracks itself
// (Registry.OpenTrackWithListener); one per track, since it keeps the
// track's net loss. A nil l or key drops the reports.
func Adapt[K any](l Listener[K], key KeyFunc[K]) trackstats.ReportListener {
	return &adapter{out: newSink(l, key)}
}

type adapter struct {
	out  sink
	loss NetLoss
}

func (a *adapter) OnReport(r trackstats.Report) {
	if a.out != nil {
		a.out.send(&r, ToAnalyticsStat(&r, &a.loss))
	}
}
