//! Every result code a C function can return is named in its doc comment,
//! and each one it names is what the function returns in the state the doc
//! gives (issue 15, item 8). The header is read: for every function that
//! returns `trackstats_result`, the codes its comment names (`OK`,
//! `NULL_ARGUMENT`, ...) must be exactly the codes the table below provokes,
//! plus the ones it lists as provoked in another suite; then every
//! provocation runs and must return its code. A function added to the
//! header without a row here fails the test.

mod c_abi;

use std::os::raw::c_void;
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use trackstats::ffi::*;
use trackstats::TRACKSTATS_MAX_ID_BYTES;
use trackstats_result as R;

/// Every code's name in the header's docs.
const NAMES: [(&str, R); 15] = [
    ("OK", R::Ok),
    ("NULL_ARGUMENT", R::NullArgument),
    ("INVALID_UTF8", R::InvalidUtf8),
    ("EMPTY_ID", R::EmptyId),
    ("ID_TOO_LONG", R::IdTooLong),
    ("INVALID_INTERVAL", R::InvalidInterval),
    ("INVALID_CAPACITY", R::InvalidCapacity),
    ("INVALID_ARGUMENT", R::InvalidArgument),
    ("REGISTRY_CLOSED", R::RegistryClosed),
    ("WRONG_MODE", R::WrongMode),
    ("REENTRANT_CALL", R::ReentrantCall),
    ("TOO_MANY_TRACKS", R::TooManyTracks),
    ("THREAD_SPAWN_FAILED", R::ThreadSpawnFailed),
    ("PANIC", R::Panic),
    ("FORKED", R::Forked),
];

/// Codes provoked in another suite: (function, or "*" for all; code; where).
const ELSEWHERE: [(&str, &str, &str); 2] = [
    (
        "*",
        "PANIC",
        "a bug inside trackstats, caught at the boundary: no state of the arguments causes it; tests/faults.rs \
         (--features fault-injection) makes the sampler panic and sees tick return it",
    ),
    ("trackstats_registry_new", "THREAD_SPAWN_FAILED", "tests/faults.rs (--features fault-injection)"),
];

/// Each function returning `trackstats_result` in the header, with the codes
/// its doc comment names.
fn documented() -> Vec<(String, Vec<&'static str>)> {
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/trackstats.h")).expect("header");
    let lines: Vec<&str> = header.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("trackstats_result trackstats_") else { continue };
        let name = format!("trackstats_{}", &rest[..rest.find('(').expect("a prototype")]);
        let doc: Vec<&str> = lines[..i].iter().rev().take_while(|l| l.starts_with("//")).copied().collect();
        let doc = doc.join(" ");
        let codes = NAMES.iter().map(|n| n.0).filter(|n| doc.contains(&format!("`{n}`"))).collect();
        out.push((name, codes));
    }
    assert!(out.len() >= 15, "found only {} fallible functions in the header", out.len());
    out
}

type Provoke = Box<dyn Fn() -> R>;

/// (function, code, how): `how` puts the function in the state and calls it.
fn table() -> Vec<(&'static str, R, Provoke)> {
    let mut t: Vec<(&'static str, R, Provoke)> = Vec::new();
    let mut add = |f: &'static str, code: R, how: Provoke| t.push((f, code, how));

    add("trackstats_registry_new", R::Ok, Box::new(|| new_and_free(trackstats_config_default())));
    add("trackstats_registry_new", R::NullArgument, Box::new(|| trackstats_registry_new(null(), null_mut())));
    add("trackstats_registry_new", R::InvalidArgument, Box::new(|| new_and_free(with(|c| c.mode = 7))));
    add("trackstats_registry_new", R::InvalidArgument, Box::new(|| new_and_free(with(|c| c.flags = 1 << 7))));
    add("trackstats_registry_new", R::InvalidInterval, Box::new(|| new_and_free(with(|c| c.interval_ms = 0))));

    add("trackstats_registry_close", R::Ok, Box::new(|| on_manual(|r| twice(r, |x| trackstats_registry_close(x)))));
    add("trackstats_registry_close", R::NullArgument, Box::new(|| trackstats_registry_close(null_mut())));
    add("trackstats_registry_close", R::ReentrantCall, Box::new(|| from_own_sink(|x| trackstats_registry_close(x))));
    add("trackstats_registry_close", R::Forked, Box::new(|| in_child_on_threaded(|x| trackstats_registry_close(x))));

    add("trackstats_registry_tick", R::Ok, Box::new(|| on_manual(|x| trackstats_registry_tick(x))));
    add("trackstats_registry_tick", R::NullArgument, Box::new(|| trackstats_registry_tick(null_mut())));
    add("trackstats_registry_tick", R::Forked, Box::new(|| in_child_on_threaded(|x| trackstats_registry_tick(x))));
    add("trackstats_registry_tick", R::WrongMode, Box::new(|| on_threaded(|x| trackstats_registry_tick(x))));
    add("trackstats_registry_tick", R::ReentrantCall, Box::new(|| from_own_sink(|x| trackstats_registry_tick(x))));
    add("trackstats_registry_tick", R::RegistryClosed, Box::new(|| on_closed(|x| trackstats_registry_tick(x))));

    add("trackstats_registry_flush", R::Ok, Box::new(|| on_manual(|x| trackstats_registry_flush(x))));
    add("trackstats_registry_flush", R::NullArgument, Box::new(|| trackstats_registry_flush(null_mut())));
    add("trackstats_registry_flush", R::Forked, Box::new(|| in_child_on_threaded(|x| trackstats_registry_flush(x))));
    add("trackstats_registry_flush", R::ReentrantCall, Box::new(|| from_own_sink(|x| trackstats_registry_flush(x))));
    add("trackstats_registry_flush", R::RegistryClosed, Box::new(|| on_closed(|x| trackstats_registry_flush(x))));

    add("trackstats_registry_stats", R::Ok, Box::new(|| on_closed(stats)));
    add("trackstats_registry_stats", R::NullArgument, Box::new(|| stats(null_mut())));
    add(
        "trackstats_registry_stats",
        R::NullArgument,
        Box::new(|| on_manual(|r| trackstats_registry_stats(r, null_mut()))),
    );
    add("trackstats_registry_stats", R::Forked, Box::new(|| in_child_on_threaded(stats)));

    add("trackstats_registry_drain", R::Ok, Box::new(|| on_closed(drain)));
    add("trackstats_registry_drain", R::NullArgument, Box::new(|| drain(null_mut())));
    add(
        "trackstats_registry_drain",
        R::NullArgument,
        Box::new(|| on_manual(|r| trackstats_registry_drain(r, null_mut()))),
    );
    add("trackstats_registry_drain", R::Forked, Box::new(|| in_child_on_threaded(drain)));

    add("trackstats_registry_wait", R::Ok, Box::new(|| on_manual(wait)));
    add("trackstats_registry_wait", R::NullArgument, Box::new(|| wait(null_mut())));
    add(
        "trackstats_registry_wait",
        R::NullArgument,
        Box::new(|| on_manual(|r| trackstats_registry_wait(r, null_mut(), 1))),
    );
    add("trackstats_registry_wait", R::Forked, Box::new(|| in_child_on_threaded(wait)));
    add("trackstats_registry_wait", R::RegistryClosed, Box::new(|| on_closed(wait)));

    let stale = |r| trackstats_registry_count_stale(r, 10, 1);
    add("trackstats_registry_count_stale", R::Ok, Box::new(move || on_closed(stale)));
    add("trackstats_registry_count_stale", R::NullArgument, Box::new(move || stale(null_mut())));
    add("trackstats_registry_count_stale", R::Forked, Box::new(move || in_child_on_threaded(stale)));

    add("trackstats_registry_prometheus", R::Ok, Box::new(|| on_closed(|r| prometheus(r, b"sfu-1".as_ptr(), 5))));
    add("trackstats_registry_prometheus", R::NullArgument, Box::new(|| prometheus(null_mut(), null(), 0)));
    add("trackstats_registry_prometheus", R::NullArgument, Box::new(|| on_manual(|r| prometheus(r, null(), 3))));
    add(
        "trackstats_registry_prometheus",
        R::NullArgument,
        Box::new(|| on_manual(|r| trackstats_registry_prometheus(r, null(), null_mut(), null_mut()))),
    );
    add(
        "trackstats_registry_prometheus",
        R::InvalidUtf8,
        Box::new(|| on_manual(|r| prometheus(r, b"\xff".as_ptr(), 1))),
    );
    add("trackstats_registry_prometheus", R::Forked, Box::new(|| in_child_on_threaded(|r| prometheus(r, null(), 0))));
    // Never waits for the sampler role: works from inside its own sink.
    add("trackstats_registry_prometheus", R::Ok, Box::new(|| from_own_sink(|r| prometheus(r, null(), 0))));

    add("trackstats_registry_figures", R::Ok, Box::new(|| on_closed(figures)));
    add("trackstats_registry_figures", R::Ok, Box::new(|| from_own_sink(figures)));
    add("trackstats_registry_figures", R::NullArgument, Box::new(|| figures(null_mut())));
    add(
        "trackstats_registry_figures",
        R::NullArgument,
        Box::new(|| on_manual(|r| trackstats_registry_figures(r, null_mut(), &mut null()))),
    );
    add(
        "trackstats_registry_figures",
        R::NullArgument,
        Box::new(|| on_manual(|r| trackstats_registry_figures(r, &mut null_mut(), null_mut()))),
    );
    add("trackstats_registry_figures", R::Forked, Box::new(|| in_child_on_threaded(figures)));

    let series = |r: *mut trackstats_registry| trackstats_registry_set_track_series(r, 10);
    add("trackstats_registry_set_track_series", R::Ok, Box::new(move || on_manual(series)));
    add("trackstats_registry_set_track_series", R::Ok, Box::new(move || on_closed(series)));
    add("trackstats_registry_set_track_series", R::Ok, Box::new(move || from_own_sink(series)));
    add("trackstats_registry_set_track_series", R::NullArgument, Box::new(move || series(null_mut())));
    add("trackstats_registry_set_track_series", R::Forked, Box::new(move || in_child_on_threaded(series)));

    for (f, hosted) in [("trackstats_track_open", false), ("trackstats_track_open_hosted", true)] {
        let open = move |r, p: &[u8], t: &[u8]| open_ids(r, hosted, p, t);
        add(f, R::Ok, Box::new(move || on_manual(|r| open(r, b"PA", b"TR"))));
        add(f, R::NullArgument, Box::new(move || open(null_mut(), b"PA", b"TR")));
        add(f, R::NullArgument, Box::new(move || on_manual(|r| open_raw(r, hosted, null(), 2, true))));
        add(f, R::NullArgument, Box::new(move || on_manual(|r| open_raw(r, hosted, b"PA".as_ptr(), 2, false))));
        add(f, R::EmptyId, Box::new(move || on_manual(|r| open(r, b"", b"TR"))));
        add(f, R::IdTooLong, Box::new(move || on_manual(|r| open(r, b"PA", &[b'x'; TRACKSTATS_MAX_ID_BYTES + 1]))));
        // Lengths before UTF-8: an overlong id of invalid bytes is too long.
        add(f, R::IdTooLong, Box::new(move || on_manual(|r| open(r, &[0xff; TRACKSTATS_MAX_ID_BYTES + 1], b"TR"))));
        add(f, R::InvalidUtf8, Box::new(move || on_manual(|r| open(r, b"\xf0\x9f", b"TR"))));
        add(f, R::Forked, Box::new(move || in_child_on_threaded(|r| open(r, b"PA", b"TR"))));
        add(f, R::RegistryClosed, Box::new(move || on_closed(|r| open(r, b"PA", b"TR"))));
        add(f, R::TooManyTracks, Box::new(move || too_many(hosted)));
    }
    add("trackstats_track_open_hosted", R::NullArgument, Box::new(|| on_manual(|r| open_block(r, null_mut()))));
    add(
        "trackstats_track_open_hosted",
        R::InvalidArgument,
        Box::new(|| on_manual(|r| open_block(r, (BLOCK.lock().unwrap().as_mut_ptr() as usize + 4) as *mut u64))),
    );

    add("trackstats_track_attach_packet_words", R::Ok, Box::new(|| attach(true, 0, 1)));
    add(
        "trackstats_track_attach_packet_words",
        R::Ok,
        Box::new(|| trackstats_track_attach_packet_words(null_mut(), null_mut())),
    );
    add("trackstats_track_attach_packet_words", R::NullArgument, Box::new(|| attach(true, usize::MAX, 1)));
    add("trackstats_track_attach_packet_words", R::InvalidArgument, Box::new(|| attach(true, 4, 1)));
    add("trackstats_track_attach_packet_words", R::InvalidArgument, Box::new(|| attach(false, 0, 1)));
    add("trackstats_track_attach_packet_words", R::InvalidArgument, Box::new(|| attach(true, 0, 2)));

    add("trackstats_track_close", R::Ok, Box::new(|| trackstats_track_close(null_mut())));
    add("trackstats_track_close", R::Ok, Box::new(|| on_track(|t| twice(t, |x| trackstats_track_close(x)))));
    add("trackstats_track_close", R::Forked, Box::new(|| in_child_on_track(|x| trackstats_track_close(x))));

    add("trackstats_track_totals", R::Ok, Box::new(|| on_track(totals)));
    add("trackstats_track_totals", R::Ok, Box::new(|| totals(null_mut())));
    add("trackstats_track_totals", R::NullArgument, Box::new(|| on_track(|t| trackstats_track_totals(t, null_mut()))));

    add("trackstats_batch_new", R::Ok, Box::new(|| batch_new(1)));
    add("trackstats_batch_new", R::Ok, Box::new(|| batch_new(usize::MAX)));
    add("trackstats_batch_new", R::NullArgument, Box::new(|| trackstats_batch_new(8, null_mut())));
    add("trackstats_batch_new", R::InvalidCapacity, Box::new(|| batch_new(0)));
    t
}

#[test]
fn every_code_a_function_returns_is_documented_and_every_documented_code_is_returned() {
    let table = table();
    let name = |c: R| NAMES.iter().find(|n| n.1 == c).expect("a named code").0;
    let mut problems = Vec::new();
    for (f, documented) in documented() {
        let mut provoked: Vec<&str> = table.iter().filter(|r| r.0 == f).map(|r| name(r.1)).collect();
        provoked.extend(ELSEWHERE.iter().filter(|e| e.0 == "*" || e.0 == f).map(|e| e.1));
        provoked.sort();
        provoked.dedup();
        let mut documented = documented.clone();
        documented.sort();
        if provoked.len() == ELSEWHERE.iter().filter(|e| e.0 == "*").count() {
            problems.push(format!("{f}: no row in this test's table (add one per code its doc names)"));
        } else if documented != provoked {
            problems.push(format!("{f}: its doc names {documented:?}, the table provokes {provoked:?}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    for (f, code, how) in &table {
        assert_eq!(how(), *code, "{f} in the state for {}", name(*code));
    }
}

// ---- the states ----------------------------------------------------------

fn with(f: impl FnOnce(&mut trackstats_config)) -> trackstats_config {
    let mut c = trackstats_config_default();
    f(&mut c);
    c
}

fn new_and_free(cfg: trackstats_config) -> R {
    let mut reg = null_mut();
    let rc = trackstats_registry_new(&cfg, &mut reg);
    trackstats_registry_free(reg);
    rc
}

fn twice<T: Copy>(x: T, f: impl Fn(T) -> R) -> R {
    let first = f(x);
    assert_eq!(first, R::Ok);
    f(x)
}

/// `f` on a fresh manual registry, freed after.
fn on_manual(f: impl FnOnce(*mut trackstats_registry) -> R) -> R {
    let reg = c_abi::registry(TRACKSTATS_MODE_MANUAL, 3_600_000);
    let rc = f(reg);
    trackstats_registry_free(reg);
    rc
}

fn on_threaded(f: impl FnOnce(*mut trackstats_registry) -> R) -> R {
    let reg = c_abi::registry(TRACKSTATS_MODE_THREAD, 3_600_000);
    let rc = f(reg);
    trackstats_registry_free(reg);
    rc
}

fn on_closed(f: impl FnOnce(*mut trackstats_registry) -> R) -> R {
    on_manual(|r| {
        assert_eq!(trackstats_registry_close(r), R::Ok);
        f(r)
    })
}

/// `f` on a track of a fresh manual registry.
fn on_track(f: impl FnOnce(*mut trackstats_track) -> R) -> R {
    on_manual(|r| {
        let t = c_abi::open_numbered(r, 1);
        let rc = f(t);
        trackstats_track_release(t);
        rc
    })
}

/// Runs `f` in a forked child and returns the code it returned there.
fn in_child(f: impl FnOnce() -> R) -> R {
    // SAFETY: the child calls `f` (trackstats calls) and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = f() as i32;
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status));
    R::from_u32(libc::WEXITSTATUS(status) as u32).expect("a code")
}

/// `f` in a forked child, on a threaded registry the parent made.
fn in_child_on_threaded(f: impl FnOnce(*mut trackstats_registry) -> R) -> R {
    on_threaded(|r| in_child(|| f(r)))
}

fn in_child_on_track(f: impl FnOnce(*mut trackstats_track) -> R) -> R {
    on_threaded(|r| {
        let t = c_abi::open_numbered(r, 1);
        let rc = in_child(|| f(t));
        trackstats_track_release(t);
        rc
    })
}

/// What the sink of `from_own_sink` calls, and what it got.
struct OwnSink {
    call: Box<dyn Fn(*mut trackstats_registry) -> R>,
    registry: *mut trackstats_registry,
    got: Option<R>,
}

unsafe extern "C" fn call_own(ctx: *mut c_void, _: *const trackstats_report, _: usize) {
    // SAFETY: the test's `OwnSink`, alive until the registry is freed.
    let s = unsafe { &mut *(ctx as *mut OwnSink) };
    if s.got.is_none() {
        s.got = Some((s.call)(s.registry));
    }
}

/// `f` called from inside the sink of a manual registry, on that registry.
fn from_own_sink(f: impl Fn(*mut trackstats_registry) -> R + 'static) -> R {
    let mut own = Box::new(OwnSink { call: Box::new(f), registry: null_mut(), got: None });
    let cfg = with(|c| {
        c.mode = TRACKSTATS_MODE_MANUAL;
        c.sink = Some(call_own);
        c.sink_ctx = &mut *own as *mut OwnSink as *mut c_void;
    });
    let mut reg = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut reg), R::Ok);
    own.registry = reg;
    let t = c_abi::open_numbered(reg, 1);
    trackstats_record_up(t, 1);
    assert_eq!(trackstats_registry_tick(reg), R::Ok);
    trackstats_track_release(t);
    trackstats_registry_free(reg);
    own.got.expect("the sink was called")
}

fn stats(r: *mut trackstats_registry) -> R {
    let mut s = trackstats_stats::default();
    trackstats_registry_stats(r, &mut s)
}

fn with_batch(f: impl FnOnce(*mut trackstats_batch) -> R) -> R {
    let mut b = null_mut();
    assert_eq!(trackstats_batch_new(4, &mut b), R::Ok);
    let rc = f(b);
    trackstats_batch_free(b);
    rc
}

fn drain(r: *mut trackstats_registry) -> R {
    with_batch(|b| trackstats_registry_drain(r, b))
}

fn wait(r: *mut trackstats_registry) -> R {
    with_batch(|b| trackstats_registry_wait(r, b, 1))
}

fn prometheus(r: *mut trackstats_registry, node_id: *const u8, node_id_len: usize) -> R {
    let options =
        trackstats_prometheus_options { per_track: false, max_track_series: 0, node_id: node_id.cast(), node_id_len };
    let mut text = null_mut();
    let rc = trackstats_registry_prometheus(r, &options, &mut text, null_mut());
    trackstats_string_free(text);
    rc
}

/// One read of the figures, freed; on failure, nothing written.
fn figures(r: *mut trackstats_registry) -> R {
    let (mut f, mut view) = (null_mut(), null());
    let rc = trackstats_registry_figures(r, &mut f, &mut view);
    assert_eq!(rc == R::Ok, !f.is_null() && !view.is_null(), "outputs written on success only");
    trackstats_figures_free(f);
    rc
}

/// A hosted block for the opens: a static, so every open may share it (each
/// resets it; the tracks are released, let go, before the next).
static BLOCK: Mutex<[u64; 9]> = Mutex::new([0; 9]);

fn block() -> *mut u64 {
    BLOCK.lock().unwrap().as_mut_ptr()
}

/// Opens with (ids as given, country empty), hosted or not, and releases.
fn open_ids(r: *mut trackstats_registry, hosted: bool, p: &[u8], t: &[u8]) -> R {
    let mut out = null_mut();
    let rc = if hosted {
        trackstats_track_open_hosted(
            r,
            p.as_ptr().cast(),
            p.len(),
            t.as_ptr().cast(),
            t.len(),
            null(),
            0,
            1,
            block(),
            &mut out,
        )
    } else {
        trackstats_track_open(r, p.as_ptr().cast(), p.len(), t.as_ptr().cast(), t.len(), null(), 0, 1, &mut out)
    };
    finish(r, rc, out)
}

/// An open whose participant id is `p` (`p_len` bytes), with or without an
/// `out`.
fn open_raw(r: *mut trackstats_registry, hosted: bool, p: *const u8, p_len: usize, with_out: bool) -> R {
    let mut t = null_mut();
    let out: *mut *mut trackstats_track = if with_out { &mut t } else { null_mut() };
    let rc = if hosted {
        trackstats_track_open_hosted(r, p.cast(), p_len, c"TR".as_ptr(), 2, null(), 0, 1, block(), out)
    } else {
        trackstats_track_open(r, p.cast(), p_len, c"TR".as_ptr(), 2, null(), 0, 1, out)
    };
    finish(r, rc, t)
}

fn open_block(r: *mut trackstats_registry, words: *mut u64) -> R {
    let mut t = null_mut();
    let rc = trackstats_track_open_hosted(r, c"PA".as_ptr(), 2, c"TR".as_ptr(), 2, null(), 0, 1, words, &mut t);
    finish(r, rc, t)
}

/// Releases what an open made (and processes the release, so a hosted
/// block is let go before the next open resets it).
fn finish(r: *mut trackstats_registry, rc: R, t: *mut trackstats_track) -> R {
    if rc == R::Ok {
        trackstats_track_release(t);
        let _ = trackstats_registry_flush(r);
    } else {
        assert!(t.is_null(), "out written on failure");
    }
    rc
}

/// A second open in a registry that holds at most one track.
fn too_many(hosted: bool) -> R {
    let mut reg = null_mut();
    let cfg = with(|c| {
        c.mode = TRACKSTATS_MODE_MANUAL;
        c.max_tracks = 1;
    });
    assert_eq!(trackstats_registry_new(&cfg, &mut reg), R::Ok);
    let first = c_abi::open_numbered(reg, 1);
    let mut second = null_mut();
    let mut words = [0u64; 8];
    let rc = if hosted {
        trackstats_track_open_hosted(
            reg,
            c"PA".as_ptr(),
            2,
            c"T2".as_ptr(),
            2,
            null(),
            0,
            2,
            words.as_mut_ptr(),
            &mut second,
        )
    } else {
        trackstats_track_open(reg, c"PA".as_ptr(), 2, c"T2".as_ptr(), 2, null(), 0, 2, &mut second)
    };
    assert!(second.is_null());
    trackstats_track_release(first);
    trackstats_registry_free(reg);
    rc
}

/// `attach_packet_words` on a hosted track (or not) with a block at a byte
/// offset (`usize::MAX`: NULL), `times` times; the last call's code.
fn attach(hosted: bool, offset: usize, times: usize) -> R {
    on_manual(|r| {
        let mut words = [0u64; 8];
        let mut packets = [0u64; 17];
        let mut t = null_mut();
        let rc = if hosted {
            trackstats_track_open_hosted(
                r,
                c"PA".as_ptr(),
                2,
                c"TR".as_ptr(),
                2,
                null(),
                0,
                1,
                words.as_mut_ptr(),
                &mut t,
            )
        } else {
            trackstats_track_open(r, c"PA".as_ptr(), 2, c"TR".as_ptr(), 2, null(), 0, 1, &mut t)
        };
        assert_eq!(rc, R::Ok);
        let p = match offset {
            usize::MAX => null_mut(),
            o => (packets.as_mut_ptr() as usize + o) as *mut u64,
        };
        let mut code = R::Ok;
        for _ in 0..times {
            code = trackstats_track_attach_packet_words(t, p);
        }
        trackstats_track_release(t);
        assert_eq!(trackstats_registry_flush(r), R::Ok); // let go before the blocks go
        code
    })
}

fn totals(t: *mut trackstats_track) -> R {
    let mut o = trackstats_totals::default();
    trackstats_track_totals(t, &mut o)
}

fn batch_new(capacity: usize) -> R {
    let mut b = null_mut();
    let rc = trackstats_batch_new(capacity, &mut b);
    trackstats_batch_free(b);
    rc
}
