//! The registry's cumulative figures, as scrapes and stats read them: bytes
//! and messages by country and direction, per-track series on request under
//! a limit with one overflow series per direction, and the registry's
//! health. The sampler role keeps them in a `Tally` as it takes windows and
//! publishes an immutable `Published` after each pass and each batch of
//! closes and releases; readers load the latest one from the `Board`, an
//! `ArcCell`, so a read never waits for the sampler, a pass or a sink.
//!
//! **What the figures include**: every window the sampler has taken, that
//! is, exactly what the reports produced so far add up to (queued or
//! delivered), and not the open window. A close or release flushes its track
//! at once, so the figures lag the records by at most one interval and only
//! for tracks still open. The open window is left out because counting it
//! means reading every slot at each scrape (O(open tracks), and a slot read
//! while the sampler releases it is either counted twice or not at all
//! unless the read takes the sampler role, which waits for the sink); the
//! reports and the figures then also agree exactly, which lets a host check
//! one against the other. `Track::totals` still adds the open window for one
//! track.
//!
//! **Monotonic**: every figure is a sum of taken windows that is never
//! decremented. A track's bytes stay in its country's sums after it is
//! released; the overflow series sums every series that was not admitted,
//! released ones included.
//!
//! **Stable series**: a (track, direction) is admitted to a series of its
//! own, or to the overflow, once, at its first report after per-track
//! figures were asked for, and stays there until the track is released. It
//! never moves between the two, so neither goes back, and a lower limit
//! only applies to series not yet admitted. A released track's series ends
//! with its final value, which stays published until the end of the second
//! pass after the release (one to two intervals), so a reader that reads at
//! least once an interval sees every series' last value; its place under the
//! limit is free from then on.

use crate::key::TrackKey;
use crate::report::Direction;
use crate::slot::Slot;
use crate::stats::Stats;
use crate::sync::{ArcCell, AtomicU64, Ordering::Relaxed};
use crate::word::Delta;
use std::collections::HashMap;
use std::os::raw::c_char;
use std::sync::Arc;

/// One country's cumulative traffic: every track opened with that country,
/// released ones included. The C view of `trackstats_registry_figures`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CountryFigures {
    /// The country as given at open: UTF-8, not NUL-terminated, empty for
    /// unknown; borrowed from the figures it came with.
    pub country: *const c_char,
    pub country_len: usize,
    pub up_bytes: u64,
    pub up_messages: u64,
    pub down_bytes: u64,
    pub down_messages: u64,
}

impl CountryFigures {
    /// The country (empty when unknown).
    pub fn name(&self) -> &str {
        // SAFETY: points into a name owned by the same `Published` as this
        // row, which every borrow of the row keeps alive; copied from a `&str`.
        unsafe { str_at(self.country, self.country_len) }
    }

    pub fn traffic(&self, dir: Direction) -> Delta {
        match dir {
            Direction::Up => Delta { bytes: self.up_bytes, messages: self.up_messages },
            Direction::Down => Delta { bytes: self.down_bytes, messages: self.down_messages },
        }
    }
}

/// One per-track series: a (track, direction) admitted under the limit
/// (see `trackstats_registry_set_track_series`). Strings are UTF-8, not
/// NUL-terminated, borrowed from the figures they came with.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TrackFigures {
    /// The `user_data` given at open.
    pub user_data: u64,
    /// Cumulative bytes and messages of this track in this direction.
    pub bytes: u64,
    pub messages: u64,
    /// When the series was admitted (Unix ns): a series of the same ids
    /// with another start is another track. Its first value may hold what
    /// the track recorded before (per-track series asked for late).
    pub start_unix_ns: u64,
    /// The track was released: this is the series' final value, published
    /// for one to two more intervals, then the series is gone.
    pub ended: bool,
    pub participant_id: *const c_char,
    pub participant_id_len: usize,
    pub track_id: *const c_char,
    pub track_id_len: usize,
    /// May be empty.
    pub country: *const c_char,
    pub country_len: usize,
    pub direction: Direction,
}

impl TrackFigures {
    fn new(key: &TrackKey, s: &Series) -> TrackFigures {
        let (p, t, c) = (key.participant_id(), key.track_id(), key.country());
        TrackFigures {
            user_data: key.user_data(),
            bytes: s.traffic.bytes,
            messages: s.traffic.messages,
            start_unix_ns: s.start_unix_ns,
            ended: s.ended,
            participant_id: p.as_ptr().cast(),
            participant_id_len: p.len(),
            track_id: t.as_ptr().cast(),
            track_id_len: t.len(),
            country: c.as_ptr().cast(),
            country_len: c.len(),
            direction: s.direction,
        }
    }

    // SAFETY (the three below): each points into a key owned by the same
    // `Published` as this row, which every borrow of the row keeps alive.
    pub fn participant_id(&self) -> &str {
        // SAFETY: see above.
        unsafe { str_at(self.participant_id, self.participant_id_len) }
    }

    pub fn track_id(&self) -> &str {
        // SAFETY: see above.
        unsafe { str_at(self.track_id, self.track_id_len) }
    }

    pub fn country(&self) -> &str {
        // SAFETY: see above.
        unsafe { str_at(self.country, self.country_len) }
    }

    pub fn traffic(&self) -> Delta {
        Delta { bytes: self.bytes, messages: self.messages }
    }
}

/// # Safety
/// `p` points to `len` bytes of UTF-8 that outlive `'a`.
unsafe fn str_at<'a>(p: *const c_char, len: usize) -> &'a str {
    if len == 0 {
        return "";
    }
    // SAFETY: per the contract.
    unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.cast(), len)) }
}

/// Rows in C layout whose strings point into `owners`, kept beside them.
struct Rows<R, O> {
    rows: Vec<R>,
    _owners: Vec<O>,
}

// SAFETY: the rows' raw pointers point into `_owners` (immutable strings:
// `Arc<str>` names, `TrackKey` blocks), which are Send and Sync and live as
// long as the rows; nothing is ever written through them.
unsafe impl<R, O: Send + Sync> Send for Rows<R, O> {}
unsafe impl<R, O: Send + Sync> Sync for Rows<R, O> {}

impl<R, O> Default for Rows<R, O> {
    fn default() -> Self {
        Rows { rows: Vec::new(), _owners: Vec::new() }
    }
}

/// One publication: immutable, shared by every reader that loaded it.
/// Parts that did not change since the previous publication are shared
/// with it, not copied.
#[derive(Default)]
pub(crate) struct Published {
    publication: u64,
    as_of_unix_ns: u64,
    countries: Arc<Rows<CountryFigures, Arc<str>>>,
    tracks: Arc<Rows<TrackFigures, TrackKey>>,
    overflow: [Delta; 2],
    track_series_limit: Option<u32>,
}

/// Where the sampler role publishes and readers load, and the per-track
/// setting readers ask for.
pub(crate) struct Board {
    published: ArcCell<Published>,
    /// Per-track series: 0 off, otherwise the limit plus one.
    track_series: AtomicU64,
}

impl Board {
    pub fn new() -> Board {
        Board { published: ArcCell::from_pointee(Published::default()), track_series: AtomicU64::new(0) }
    }

    /// The latest publication, without waiting.
    pub fn load(&self) -> Arc<Published> {
        self.published.load_full()
    }

    /// Keeps per-track series from the next pass on, admitting at most
    /// `max_series` (track, direction) pairs at once.
    pub fn set_track_series(&self, max_series: u32) {
        // Relaxed: a setting, read by the sampler role at its next pass; it
        // publishes no other data.
        self.track_series.store(u64::from(max_series) + 1, Relaxed);
    }

    fn track_series(&self) -> Option<u32> {
        // Relaxed: as in `set_track_series`.
        match self.track_series.load(Relaxed) {
            0 => None,
            n => Some((n - 1) as u32),
        }
    }
}

/// A slot whose track's country is not looked up yet.
const UNRESOLVED: u32 = u32::MAX;
/// Per direction of a slot: not admitted yet, in the overflow, or else the
/// index of its series.
const UNDECIDED: u32 = u32::MAX;
const OVERFLOW: u32 = u32::MAX - 1;

struct Country {
    name: Arc<str>,
    traffic: [Delta; 2],
}

struct Series {
    /// None while the entry is free.
    key: Option<TrackKey>,
    direction: Direction,
    traffic: Delta,
    start_unix_ns: u64,
    /// Its track was released; freed at the end of the second pass after.
    ended: bool,
}

/// The figures as the sampler role keeps them between publications. Every
/// reported window goes through `add` right where its reports are queued,
/// so the figures are exactly what the reports add up to.
pub(crate) struct Tally {
    /// Per slot index, reset when the slot is released: its track's country
    /// id, read at every take (4 bytes a track: a pass streams it), and its
    /// series per direction, kept only once per-track figures are on.
    country_of: Vec<u32>,
    series_of: Vec<[u32; 2]>,
    countries: Vec<Country>,
    country_ids: HashMap<Arc<str>, u32>,
    /// Country ids sorted by name, the order of publication.
    order: Vec<u32>,
    series: Vec<Series>,
    free_series: Vec<u32>,
    /// Series entries in use (ended ones included until they are freed).
    admitted: u32,
    /// Ended series, freed at the end of the next pass (`ending`) or the
    /// one after (`ended`).
    ending: Vec<u32>,
    ended: Vec<u32>,
    /// The time of the batch of work under way (Unix ns), the start of the
    /// series it admits.
    now_unix_ns: u64,
    overflow: [Delta; 2],
    /// The board's setting, read at the start of each batch of work.
    limit: Option<u32>,
    /// What changed since the last publication: country sums, per-track
    /// rows, the setting.
    countries_changed: bool,
    tracks_changed: bool,
    limit_changed: bool,
    last: Arc<Published>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            country_of: Vec::new(),
            series_of: Vec::new(),
            countries: Vec::new(),
            country_ids: HashMap::new(),
            order: Vec::new(),
            series: Vec::new(),
            free_series: Vec::new(),
            admitted: 0,
            ending: Vec::new(),
            ended: Vec::new(),
            now_unix_ns: 0,
            overflow: [Delta::ZERO; 2],
            limit: None,
            countries_changed: false,
            tracks_changed: false,
            limit_changed: false,
            last: Arc::new(Published::default()),
        }
    }

    /// Takes up the board's per-track setting before a batch of work that
    /// runs at `now_unix_ns`.
    pub fn begin(&mut self, board: &Board, now_unix_ns: u64) {
        self.now_unix_ns = now_unix_ns;
        let limit = board.track_series();
        if limit != self.limit {
            self.limit = limit;
            self.limit_changed = true;
        }
    }

    /// Counts one take of the track at slot `i`: `d` per direction, already
    /// folded into the slot's sums.
    #[inline]
    pub fn add(&mut self, i: u32, slot: &Slot, d: &[Delta; 2]) {
        let c = match self.country_of.get(i as usize) {
            Some(&c) if c != UNRESOLVED => c,
            _ => self.resolve(i, slot),
        };
        let t = &mut self.countries[c as usize].traffic;
        t[0] = t[0].add(d[0]);
        t[1] = t[1].add(d[1]);
        if self.limit.is_some() {
            self.add_series(i as usize, slot, d);
        }
        self.countries_changed = true;
    }

    /// The country id of the track at slot `i`, looked up once per track.
    #[cold]
    fn resolve(&mut self, i: u32, slot: &Slot) -> u32 {
        let i = i as usize;
        if i >= self.country_of.len() {
            // Amortized: the table grows to the highest slot index reported.
            self.country_of.resize(i + 1, UNRESOLVED);
        }
        let c = self.country_id(slot.key().country());
        self.country_of[i] = c;
        c
    }

    /// The per-track part of `add`, once per-track figures are on.
    fn add_series(&mut self, i: usize, slot: &Slot, d: &[Delta; 2]) {
        if i >= self.series_of.len() {
            self.series_of.resize(i + 1, [UNDECIDED; 2]);
        }
        for dir in Direction::ALL {
            let k = dir.index();
            let x = d[k];
            if x.is_zero() {
                continue;
            }
            match self.series_of[i][k] {
                UNDECIDED => self.series_of[i][k] = self.admit(slot, dir),
                OVERFLOW => self.overflow[k] = self.overflow[k].add(x),
                s => {
                    let t = &mut self.series[s as usize].traffic;
                    *t = t.add(x);
                    self.tracks_changed = true;
                }
            }
        }
    }

    fn country_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.country_ids.get(name) {
            return id;
        }
        let id = self.countries.len() as u32;
        let name: Arc<str> = name.into();
        self.countries.push(Country { name: name.clone(), traffic: [Delta::ZERO; 2] });
        self.country_ids.insert(name, id);
        let at = self.order.partition_point(|&o| *self.countries[o as usize].name < *self.countries[id as usize].name);
        self.order.insert(at, id);
        id
    }

    /// Decides once where a (track, direction) that has just moved is
    /// counted: a series of its own while fewer than the limit are admitted,
    /// otherwise the overflow. Either starts from the track's whole
    /// cumulative sum in that direction, so a track that moved before
    /// per-track figures were asked for is counted in full.
    fn admit(&mut self, slot: &Slot, dir: Direction) -> u32 {
        let k = dir.index();
        let sum = slot.sums()[k];
        let limit = self.limit.unwrap_or(0);
        if self.admitted >= limit {
            self.overflow[k] = self.overflow[k].add(sum);
            return OVERFLOW;
        }
        let entry = Series {
            key: Some(slot.key()),
            direction: dir,
            traffic: sum,
            start_unix_ns: self.now_unix_ns,
            ended: false,
        };
        let s = match self.free_series.pop() {
            Some(s) => {
                self.series[s as usize] = entry;
                s
            }
            None => {
                self.series.push(entry);
                (self.series.len() - 1) as u32
            }
        };
        self.admitted += 1;
        self.tracks_changed = true;
        s
    }

    /// The track at slot `i` is gone (released, its last windows counted):
    /// its series end (their final values stay published for one to two
    /// passes, see the module doc), and the slot's next track starts afresh.
    pub fn forget(&mut self, i: u32) {
        let i = i as usize;
        if let Some(c) = self.country_of.get_mut(i) {
            *c = UNRESOLVED;
        }
        let Some(e) = self.series_of.get_mut(i) else { return };
        for s in std::mem::replace(e, [UNDECIDED; 2]) {
            if s < OVERFLOW {
                self.series[s as usize].ended = true;
                self.ending.push(s);
                self.tracks_changed = true;
            }
        }
    }

    /// At the end of a pass: frees the series that ended before the
    /// previous pass, so each was published for at least one interval.
    pub fn pass_done(&mut self) {
        for s in std::mem::take(&mut self.ended) {
            self.series[s as usize].key = None;
            self.free_series.push(s);
            self.admitted -= 1;
            self.tracks_changed = true;
        }
        std::mem::swap(&mut self.ended, &mut self.ending);
    }

    /// Publishes what changed since the last publication, if anything did.
    /// `as_of_unix_ns`: the end of the latest window taken.
    pub fn publish(&mut self, board: &Board, as_of_unix_ns: u64) {
        if !(self.countries_changed || self.tracks_changed || self.limit_changed) {
            return;
        }
        let countries =
            if self.countries_changed { Arc::new(self.country_rows()) } else { self.last.countries.clone() };
        let tracks = if self.tracks_changed { Arc::new(self.track_rows()) } else { self.last.tracks.clone() };
        let p = Arc::new(Published {
            publication: self.last.publication + 1,
            as_of_unix_ns: as_of_unix_ns.max(self.last.as_of_unix_ns),
            countries,
            tracks,
            overflow: self.overflow,
            track_series_limit: self.limit,
        });
        board.published.store(p.clone());
        self.last = p;
        self.countries_changed = false;
        self.tracks_changed = false;
        self.limit_changed = false;
    }

    fn country_rows(&self) -> Rows<CountryFigures, Arc<str>> {
        let mut rows = Vec::with_capacity(self.order.len());
        let mut names = Vec::with_capacity(self.order.len());
        for &id in &self.order {
            let c = &self.countries[id as usize];
            let [up, down] = c.traffic;
            rows.push(CountryFigures {
                country: c.name.as_ptr().cast(),
                country_len: c.name.len(),
                up_bytes: up.bytes,
                up_messages: up.messages,
                down_bytes: down.bytes,
                down_messages: down.messages,
            });
            names.push(c.name.clone());
        }
        Rows { rows, _owners: names }
    }

    fn track_rows(&self) -> Rows<TrackFigures, TrackKey> {
        let n = self.admitted as usize;
        let (mut rows, mut keys) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for s in &self.series {
            if let Some(key) = &s.key {
                rows.push(TrackFigures::new(key, s));
                keys.push(key.clone());
            }
        }
        Rows { rows, _owners: keys }
    }
}

/// A registry's figures at one moment: the latest publication of the
/// sampler role (traffic by country, per-track series) and the health
/// counters as they stood when it was read. Cheap to take (no copy of the
/// published rows) and to keep.
pub struct Figures {
    published: Arc<Published>,
    stats: Stats,
    started_unix_ns: u64,
    tick_ns_total: u64,
    last_tick_ns: u64,
}

impl Figures {
    pub(crate) fn new(
        published: Arc<Published>,
        stats: Stats,
        started_unix_ns: u64,
        tick_ns_total: u64,
        last_tick_ns: u64,
    ) -> Figures {
        Figures { published, stats, started_unix_ns, tick_ns_total, last_tick_ns }
    }

    /// When the registry started (Unix ns): every cumulative figure counts
    /// from there.
    pub fn started_unix_ns(&self) -> u64 {
        self.started_unix_ns
    }

    /// How many times the sampler role has published: equal numbers, equal
    /// traffic figures. 0 before the first report.
    pub fn publication(&self) -> u64 {
        self.published.publication
    }

    /// The end of the latest window these figures include (Unix ns).
    pub fn as_of_unix_ns(&self) -> u64 {
        self.published.as_of_unix_ns
    }

    /// Cumulative traffic by country, sorted by country, every country the
    /// registry has reported (released tracks included).
    pub fn countries(&self) -> &[CountryFigures] {
        &self.published.countries.rows
    }

    /// The sum over every country.
    pub fn total(&self, dir: Direction) -> Delta {
        self.countries().iter().fold(Delta::ZERO, |a, c| a.add(c.traffic(dir)))
    }

    /// The per-track series, when asked for (`Registry::set_track_series`):
    /// one per admitted (track, direction), in a stable order; a released
    /// track's series stay, flagged `ended`, for one to two intervals.
    pub fn tracks(&self) -> &[TrackFigures] {
        &self.published.tracks.rows
    }

    /// Everything that was not admitted to a series of its own, released
    /// tracks included; zero while per-track figures are off.
    pub fn overflow(&self, dir: Direction) -> Delta {
        self.published.overflow[dir.index()]
    }

    /// The per-track limit these figures were kept under, None when off.
    pub fn track_series_limit(&self) -> Option<u32> {
        self.published.track_series_limit
    }

    /// The registry's health counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Time the sampler spent in window passes, in total and in the latest.
    pub fn tick_ns_total(&self) -> u64 {
        self.tick_ns_total
    }

    pub fn last_tick_ns(&self) -> u64 {
        self.last_tick_ns
    }
}

#[cfg(all(test, not(trackstats_loom)))]
mod tests {
    use super::*;
    use crate::slab::{testing, Slab};

    fn open(slab: &Slab, p: &str, country: &str) -> u32 {
        testing::open(slab, TrackKey::new(p, "TR", country, 7).unwrap())
    }

    /// Records on the track at `i` and takes its window, as a pass would.
    fn take(t: &mut Tally, slab: &Slab, i: u32, up: u64, down: u64) {
        let s = slab.get(i);
        if up > 0 {
            s.record(Direction::Up, up);
        }
        if down > 0 {
            s.record(Direction::Down, down);
        }
        let d = s.take_windows(&s.observe().unwrap());
        t.add(i, s, &d);
    }

    /// Releases the track at `i` as the sampler does: its sealing take
    /// counted if it took anything, then the track forgotten.
    fn release(t: &mut Tally, slab: &Slab, i: u32) {
        testing::release(slab, i, |s, d| {
            if !d.iter().all(|x| x.is_zero()) {
                t.add(i, s, d);
            }
            t.forget(i);
        });
    }

    fn read(board: &Board) -> Figures {
        Figures::new(board.load(), Stats::default(), 0, 0, 0)
    }

    #[test]
    fn countries_sum_every_window_and_keep_released_tracks() {
        let (board, mut t, slab) = (Board::new(), Tally::new(), testing::slab());
        let (a, b, c) = (open(&slab, "a", "SE"), open(&slab, "b", ""), open(&slab, "c", "DE"));
        t.begin(&board, 0);
        take(&mut t, &slab, a, 10, 0);
        take(&mut t, &slab, b, 0, 5);
        take(&mut t, &slab, c, 1, 1);
        take(&mut t, &slab, a, 10, 0);
        t.publish(&board, 100);
        release(&mut t, &slab, a);
        t.publish(&board, 200);
        let f = read(&board);
        let names: Vec<_> = f.countries().iter().map(|c| c.name()).collect();
        assert_eq!(names, ["", "DE", "SE"], "sorted by country");
        assert_eq!(f.countries()[2].traffic(Direction::Up), Delta { bytes: 20, messages: 2 });
        assert_eq!(f.total(Direction::Down), Delta { bytes: 6, messages: 2 });
        assert_eq!(f.publication(), 1, "nothing changed for the second: not published again");
        assert!(f.tracks().is_empty() && f.track_series_limit().is_none());
    }

    #[test]
    fn series_are_admitted_once_and_the_overflow_never_goes_back() {
        let (board, mut t, slab) = (Board::new(), Tally::new(), testing::slab());
        let ids: Vec<u32> = (0..4).map(|i| open(&slab, &format!("p{i}"), "FR")).collect();
        take(&mut t, &slab, ids[0], 100, 0); // before per-track figures: no series yet
        board.set_track_series(2);
        t.begin(&board, 0);
        take(&mut t, &slab, ids[0], 1, 0); // admitted with its whole sum
        take(&mut t, &slab, ids[1], 2, 3); // up admitted; down over the limit
        take(&mut t, &slab, ids[2], 4, 0); // overflow
        t.publish(&board, 1);
        let f = read(&board);
        let series: Vec<_> = f.tracks().iter().map(|s| (s.participant_id(), s.direction, s.bytes)).collect();
        assert_eq!(series, [("p0", Direction::Up, 101), ("p1", Direction::Up, 2)]);
        assert_eq!((f.overflow(Direction::Up).bytes, f.overflow(Direction::Down).bytes), (4, 3));

        // p0 goes: its series ends with its final value (the sealing take
        // holds its last bytes), published until the end of the second pass
        // after; only then is its place free for the next new series (not
        // p2's, decided already).
        t.begin(&board, 2);
        slab.get(ids[0]).record(Direction::Up, 9);
        release(&mut t, &slab, ids[0]);
        t.publish(&board, 2);
        let ended =
            |f: &Figures| f.tracks().iter().map(|s| (s.participant_id().to_string(), s.ended)).collect::<Vec<_>>();
        let f = read(&board);
        assert_eq!(f.tracks()[0].bytes, 110, "the final value");
        assert_eq!(ended(&f), [("p0".into(), true), ("p1".into(), false)]);
        t.pass_done(); // the first pass after the release: still there
        t.publish(&board, 3);
        assert_eq!(ended(&read(&board))[0], ("p0".into(), true));
        t.pass_done(); // the second: gone, its place free
        t.begin(&board, 4);
        take(&mut t, &slab, ids[2], 4, 0);
        take(&mut t, &slab, ids[3], 8, 0);
        t.publish(&board, 4);
        let f = read(&board);
        let series: Vec<_> = f.tracks().iter().map(|s| (s.participant_id(), s.bytes, s.start_unix_ns)).collect();
        assert_eq!(series, [("p3", 8, 4), ("p1", 2, 0)], "p3 reuses p0's entry; p2 stays in the overflow");
        assert_eq!(f.overflow(Direction::Up).bytes, 8, "4 + 4: p2 only");
        assert_eq!(f.total(Direction::Up).bytes, 110 + 2 + 8 + 8, "released p0 still counted by country");
    }
}
