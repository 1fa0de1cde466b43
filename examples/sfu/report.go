package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/trackstats/trackstats/cbindings/go/trackstats"
)

// key is a report's track key and direction.
type key struct {
	participant, track, country string
	dir                         trackstats.Direction
}

// sums are the reports of one key added up.
type sums struct {
	bytes, messages                                 uint64
	lost, recovered, outOfOrder, duplicated, frames uint64
}

func keyOf(r *trackstats.Report) key {
	return key{r.ParticipantID, r.TrackID, r.Country, r.Direction}
}

func (s *sums) add(r *trackstats.Report) {
	s.bytes += r.Bytes
	s.messages += r.Messages
	s.lost += r.PacketsLost
	s.recovered += r.PacketsRecovered
	s.outOfOrder += r.PacketsOutOfOrder
	s.duplicated += r.PacketsDuplicated
	s.frames += r.Frames
}

// streamType is the direction as LiveKit's stats key names it.
func streamType(d trackstats.Direction) string {
	if d == trackstats.Up {
		return "UPSTREAM"
	}
	return "DOWNSTREAM"
}

// printer prints one table per window once it is complete (a later window
// started, or a drain came back empty), as `make demo` does.
type printer struct {
	out      io.Writer
	interval time.Duration
	top      int
	window   []trackstats.Report
	closing  []trackstats.Report
	printed  int
}

func (p *printer) take(batch []trackstats.Report) {
	if len(batch) == 0 {
		p.print()
		return
	}
	for _, r := range batch {
		if r.Flags&(trackstats.FlagFinal|trackstats.FlagLate) != 0 {
			p.closing = append(p.closing, r)
			continue
		}
		if len(p.window) > 0 && !p.window[0].End.Equal(r.End) {
			p.print()
		}
		p.window = append(p.window, r)
	}
}

func (p *printer) finish() {
	p.print()
	if len(p.closing) > 0 {
		end := p.closing[0].End
		for _, r := range p.closing {
			if r.End.After(end) {
				end = r.End
			}
		}
		fmt.Fprintf(p.out, "── shutdown flush at %s UTC ──\n", clock(end))
		p.closingLine()
		fmt.Fprintln(p.out)
	}
}

func (p *printer) print() {
	if len(p.window) == 0 {
		return
	}
	w := p.window
	p.window = nil
	start, end := w[0].Start, w[0].End
	merged := ""
	for _, r := range w {
		if r.Start.Before(start) {
			start = r.Start
		}
		if r.Flags&trackstats.FlagMerged != 0 {
			merged = ", merged"
		}
	}
	secs := end.Sub(start).Seconds()
	p.printed++
	fmt.Fprintf(p.out, "── window %d · %s → %s UTC (%.3f s%s) ──────────────────────\n",
		p.printed, clock(start), clock(end), secs, merged)
	fmt.Fprintf(p.out, "  %-11s %7s %12s %10s %13s\n", "direction", "tracks", "bytes", "messages", "rate")
	nominal := p.interval.Seconds()
	var seq sums
	for _, d := range []trackstats.Direction{trackstats.Up, trackstats.Down} {
		var tracks int
		var s sums
		for i := range w {
			if w[i].Direction == d {
				tracks++
				s.add(&w[i])
			}
		}
		if d == trackstats.Up {
			seq = s
		}
		fmt.Fprintf(p.out, "  %-11s %7d %12s %10s %13s\n", streamType(d), tracks, human(float64(s.bytes)),
			grouped(s.messages), human(float64(s.bytes)/max(nominal, min(secs, nominal)))+"/s")
	}
	fmt.Fprintf(p.out, "  upstream packets: %s lost, %s recovered, %s out of order, %s duplicated, %s frames\n",
		grouped(seq.lost), grouped(seq.recovered), grouped(seq.outOfOrder), grouped(seq.duplicated), grouped(seq.frames))
	top := append([]trackstats.Report(nil), w...)
	sort.SliceStable(top, func(i, j int) bool { return top[i].Bytes > top[j].Bytes })
	fmt.Fprintln(p.out, "  top tracks by bytes:")
	for _, r := range top[:min(p.top, len(top))] {
		country := r.Country
		if country == "" {
			country = "--"
		}
		fmt.Fprintf(p.out, "    %-11s %-11s %-3s %-10s %10s %7s msgs %11s/s\n", r.ParticipantID, r.TrackID, country,
			streamType(r.Direction), human(float64(r.Bytes)), grouped(r.Messages), human(float64(r.Bytes)/secs))
	}
	if len(p.closing) > 0 {
		p.closingLine()
	}
	fmt.Fprintln(p.out)
}

func (p *printer) closingLine() {
	finals, late := 0, 0
	var bytes uint64
	tracks := map[[2]string]bool{}
	for _, r := range p.closing {
		if r.Flags&trackstats.FlagFinal != 0 {
			finals++
		}
		if r.Flags&trackstats.FlagLate != 0 {
			late++
		}
		bytes += r.Bytes
		tracks[[2]string{r.ParticipantID, r.TrackID}] = true
	}
	fmt.Fprintf(p.out, "  closed tracks: %d (%d final reports, %d late), %s in their last windows\n",
		len(tracks), finals, late, human(float64(bytes)))
	p.closing = nil
}

// clock is HH:MM:SS.mmm, UTC.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func human(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	u := 0
	for b >= 1024 && u+1 < len(units) {
		b /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%.0f %s", b, units[u])
	}
	return fmt.Sprintf("%.1f %s", b, units[u])
}

// grouped is 1234567 as "1,234,567".
func grouped(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
