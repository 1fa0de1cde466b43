package trackstats

import (
	"unsafe"

	"github.com/trackstats/trackstats/cbindings/go/internal/clib"
)

// From the library's structs (internal/clib's mirrors) to this package's.

// borrowed views a report's (pointer, length) string without copying.
func borrowed(p *byte, n uintptr) string {
	if n == 0 {
		return ""
	}
	// SAFETY: p holds n bytes of UTF-8 owned by the batch; the result is
	// only read (and copied) before the batch is refilled.
	return unsafe.String(p, int(n))
}

// cArray views n elements at p, an array in C memory, without copying.
func cArray[T any](p *T, n uintptr) []T {
	if n == 0 {
		return nil
	}
	// SAFETY: p holds n elements owned by the library's read, which the
	// caller keeps until it has copied what it keeps.
	return unsafe.Slice(p, int(n))
}

// keyCopier copies the ids of a batch's reports into Go memory (the batch
// is refilled by the next drain): one string per key, which the three ids
// slice, shared by consecutive reports of one key (a track's up and down
// reports of a pass are adjacent). The strings of a batch share one
// allocation, sized by reset: one allocation per batch of up to 1024
// reports rather than one per key. Go keeps no copy of the ids per open
// track; only reports pay for them.
type keyCopier struct {
	last                        *byte // the previous report's participant id in the batch
	participant, track, country string
	arena                       []byte // the batch's ids, appended in order; never reallocated
}

// reset sizes the arena for batch: the bytes of each run of one key.
func (k *keyCopier) reset(batch []clib.Report) {
	n := 0
	var last *byte
	for i := range batch {
		if c := &batch[i]; c.ParticipantID != last {
			last = c.ParticipantID
			n += int(c.ParticipantIDLen + c.TrackIDLen + c.CountryLen)
		}
	}
	*k = keyCopier{arena: make([]byte, 0, n)}
}

func (k *keyCopier) ids(c *clib.Report) (participant, track, country string) {
	// Two keys alive in one batch are distinct allocations, so the same
	// address is the same key.
	if c.ParticipantID != k.last {
		pl, tl, cl := int(c.ParticipantIDLen), int(c.TrackIDLen), int(c.CountryLen)
		start := len(k.arena)
		k.arena = append(k.arena, borrowed(c.ParticipantID, c.ParticipantIDLen)...)
		k.arena = append(k.arena, borrowed(c.TrackID, c.TrackIDLen)...)
		k.arena = append(k.arena, borrowed(c.Country, c.CountryLen)...)
		// SAFETY: reset sized the arena for the whole batch, so these
		// appends never move it, and nothing writes the bytes again: the
		// string is immutable, as Go requires.
		all := unsafe.String(unsafe.SliceData(k.arena[start:]), pl+tl+cl)
		k.last = c.ParticipantID
		k.participant, k.track, k.country = all[:pl], all[pl:pl+tl], all[pl+tl:]
	}
	return k.participant, k.track, k.country
}

// goReport converts one C report, but for UserData (the C field holds the
// entry's id).
func goReport(c *clib.Report, keys *keyCopier) Report {
	r := Report{
		Direction: Direction(c.Direction),
		Bytes:     c.Bytes,
		Messages:  c.Messages,
		Start:     unixNano(c.StartUnixNS),
		End:       unixNano(c.EndUnixNS),
		Flags:     Flags(c.Flags),

		PacketsLost:       c.PacketsLost,
		PacketsRecovered:  c.PacketsRecovered,
		PacketsOutOfOrder: c.PacketsOutOfOrder,
		PacketsDuplicated: c.PacketsDuplicated,
		Frames:            c.Frames,
	}
	r.ParticipantID, r.TrackID, r.Country = keys.ids(c)
	return r
}

func goTotals(t clib.Totals) Totals {
	return Totals{
		UpBytes:      t.UpBytes,
		UpMessages:   t.UpMessages,
		DownBytes:    t.DownBytes,
		DownMessages: t.DownMessages,

		UpPacketsLost:       t.UpPacketsLost,
		UpPacketsRecovered:  t.UpPacketsRecovered,
		UpPacketsOutOfOrder: t.UpPacketsOutOfOrder,
		UpPacketsDuplicated: t.UpPacketsDuplicated,
		UpFrames:            t.UpFrames,
	}
}

func goStats(s clib.Stats) Stats {
	return Stats{
		OpenTracks:      s.OpenTracks,
		LiveSlots:       s.LiveSlots,
		ReportsEmitted:  s.ReportsEmitted,
		ReportsMerged:   s.ReportsMerged,
		ReportsPending:  s.ReportsPending,
		Ticks:           s.Ticks,
		LateTicks:       s.LateTicks,
		RecordsRejected: s.RecordsRejected,
		SamplerPanics:   s.SamplerPanics,
		SinkPanics:      s.SinkPanics,

		StaleRecords:      s.StaleRecords,
		StaleBytes:        s.StaleBytes,
		SlotsQuarantined:  s.SlotsQuarantined,
		SlotsInGrace:      s.SlotsInGrace,
		SegmentsResident:  s.SegmentsResident,
		SegmentsReturned:  s.SegmentsReturned,
		ReportsOverflowed: s.ReportsOverflowed,
		ReportsLateTicks:  s.ReportsLateTicks,
	}
}
