//! fork() (issue 15, item 6): registries a child process inherits are inert.
//! The child's copy has no sampler thread, and a lock a parent thread held
//! at the fork stays held there: every call that would need either refuses
//! with `Forked` (`TRACKSTATS_RESULT_FORKED`), records and totals work on the
//! child's memory and are never reported, freeing prints nothing and waits
//! for nothing, and new registries in the child work as anywhere.
//!
//! One test, in a binary of its own: it forks while the test harness runs
//! only it, and the child reports through pipes (its stdout and stderr go to
//! one, which must stay empty, and a panic hook writes there too).

use std::ptr::{null, null_mut};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use trackstats::ffi::*;
use trackstats::{Config, Error, PrometheusOptions, Registry, Report, TrackKey};

fn key(id: u64) -> TrackKey {
    TrackKey::new("PA_fork", &format!("TR_{id}"), "DE", id).unwrap()
}

/// Reads what a pipe holds until its writers are gone.
fn read_all(fd: i32) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: a pipe's read end of ours, into a buffer of that size.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes to a file descriptor without Rust's output machinery (which the
/// test harness captures).
fn write_fd(fd: i32, s: &str) {
    // SAFETY: a valid buffer of that length; a short write only shortens the message.
    unsafe { libc::write(fd, s.as_ptr().cast(), s.len()) };
}

/// Runs `child` in a forked child process: its result goes back through one
/// pipe, anything it prints through another. Returns (exit status, result,
/// printed).
fn fork_and_run(child: impl FnOnce() -> Result<(), String>) -> (i32, String, String) {
    let (mut result, mut printed) = ([0i32; 2], [0i32; 2]);
    // SAFETY: arrays of two descriptors each, as pipe wants.
    assert_eq!(unsafe { libc::pipe(result.as_mut_ptr()) }, 0);
    assert_eq!(unsafe { libc::pipe(printed.as_mut_ptr()) }, 0);
    // SAFETY: the child only calls what the test is about, and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: the child's own descriptors.
        unsafe {
            libc::dup2(printed[1], 1);
            libc::dup2(printed[1], 2);
            libc::close(printed[0]);
            libc::close(result[0]);
        }
        // A panic message goes where the child's prints go.
        std::panic::set_hook(Box::new(|info| write_fd(2, &format!("panic: {info}\n"))));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child));
        let code = match outcome {
            Ok(Ok(())) => {
                write_fd(result[1], "ok");
                0
            }
            Ok(Err(e)) => {
                write_fd(result[1], &e);
                1
            }
            Err(_) => 2,
        };
        // SAFETY: ends the child at once: no destructors of the parent's state.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: the parent's copies of the write ends.
    unsafe {
        libc::close(result[1]);
        libc::close(printed[1]);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut status = 0;
    loop {
        // SAFETY: our child's pid, a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: our child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child did not finish within 30 s (a deadlock)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    (code, read_all(result[0]), read_all(printed[0]))
}

macro_rules! check {
    ($cond:expr, $($what:tt)+) => {
        if !$cond {
            return Err(format!("line {}: {}", line!(), format!($($what)+)));
        }
    };
}

/// A C sink that blocks until told to go on: the manual registry ticking
/// into it holds its sampler role (a lock) while the parent forks.
unsafe extern "C" fn blocking_sink(ctx: *mut std::os::raw::c_void, _: *const trackstats_report, _: usize) {
    // SAFETY: `ctx` is the test's `Gate`, alive until the registry is freed.
    let gate = unsafe { &*(ctx as *const Gate) };
    let _ = gate.entered.lock().unwrap().send(());
    let _ = gate.release.lock().unwrap().recv();
}

struct Gate {
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

#[test]
fn inherited_registries_are_inert_in_a_forked_child() {
    // A threaded registry with a track, a closed track's report pending.
    let threaded = Registry::new(Config { interval: Duration::from_millis(20), ..Default::default() }).unwrap();
    let t = threaded.open(key(1)).unwrap();
    t.record_up(100);
    let closed = threaded.open(key(2)).unwrap();
    closed.record_down(7);
    closed.close();
    // The same through the C ABI.
    let mut cfg = trackstats_config_default();
    cfg.interval_ms = 20;
    let mut creg = null_mut();
    assert_eq!(trackstats_registry_new(&cfg, &mut creg), trackstats_result::Ok);
    let mut ct = null_mut();
    let rc = trackstats_track_open(creg, c"PA".as_ptr(), 2, c"TR".as_ptr(), 2, null(), 0, 9, &mut ct);
    assert_eq!(rc, trackstats_result::Ok);
    trackstats_record_up(ct, 30);
    // A manual registry whose sampler role another thread holds at the fork,
    // stuck in its sink.
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let gate = Box::leak(Box::new(Gate { entered: Mutex::new(entered_tx), release: Mutex::new(release_rx) }));
    let mut mcfg = trackstats_config_default();
    mcfg.mode = TRACKSTATS_MODE_MANUAL;
    mcfg.sink = Some(blocking_sink);
    mcfg.sink_ctx = gate as *mut Gate as *mut std::os::raw::c_void;
    let mut held = null_mut();
    assert_eq!(trackstats_registry_new(&mcfg, &mut held), trackstats_result::Ok);
    let mut ht = null_mut();
    let rc = trackstats_track_open(held, c"PA".as_ptr(), 2, c"TH".as_ptr(), 2, null(), 0, 3, &mut ht);
    assert_eq!(rc, trackstats_result::Ok);
    trackstats_record_up(ht, 1);
    let (held_addr, ht_addr) = (held as usize, ht as usize);
    let ticker = std::thread::spawn(move || trackstats_registry_tick(held_addr as *mut trackstats_registry));
    entered.recv_timeout(Duration::from_secs(10)).expect("the sink was entered");

    let (creg_addr, ct_addr) = (creg as usize, ct as usize);
    let (threaded_ref, t_ref, closed_ref) = (&threaded, &t, &closed);
    let (code, result, printed) = fork_and_run(|| {
        let (threaded, t) = (threaded_ref, t_ref);
        let (creg, ct) = (creg_addr as *mut trackstats_registry, ct_addr as *mut trackstats_track);
        let (held, ht) = (held_addr as *mut trackstats_registry, ht_addr as *mut trackstats_track);
        check!(threaded.inherited(), "the copy knows it is inherited");
        // Records and totals work on the child's copy.
        t.record_up(5);
        check!(t.totals().up.bytes == 105, "totals {:?}", t.totals());
        // What needs the thread or a lock refuses.
        check!(matches!(threaded.open(key(3)), Err(Error::Forked)), "open");
        check!(threaded.flush() == Err(Error::Forked), "flush");
        check!(threaded.tick() == Err(Error::Forked), "tick");
        check!(threaded.close() == Err(Error::Forked), "close");
        check!(threaded.prometheus(&PrometheusOptions::default()) == Err(Error::Forked), "prometheus");
        let mut out: Vec<Report> = Vec::new();
        check!(threaded.drain(&mut out, 16) == 0, "drain");
        check!(threaded.wait(&mut out, 16, Duration::from_millis(1)) == Err(Error::Forked), "wait");
        check!(!t.close(), "a track's close does nothing");
        check!(threaded.stats().open_tracks == 1, "stats: the copied counters");
        // Through the C ABI: every registry call says FORKED.
        trackstats_record_up(ct, 1);
        let mut st = trackstats_stats::default();
        let mut batch = null_mut();
        check!(trackstats_batch_new(4, &mut batch) == trackstats_result::Ok, "batch_new");
        let mut text = null_mut();
        let mut nt = null_mut();
        let codes = [
            ("open", trackstats_track_open(creg, c"PA".as_ptr(), 2, c"TX".as_ptr(), 2, null(), 0, 1, &mut nt)),
            ("tick", trackstats_registry_tick(creg)),
            ("flush", trackstats_registry_flush(creg)),
            ("stats", trackstats_registry_stats(creg, &mut st)),
            ("drain", trackstats_registry_drain(creg, batch)),
            ("wait", trackstats_registry_wait(creg, batch, 1)),
            ("prometheus", trackstats_registry_prometheus(creg, null(), &mut text, null_mut())),
            ("count_stale", trackstats_registry_count_stale(creg, 1, 1)),
            ("track_close", trackstats_track_close(ct)),
            ("close", trackstats_registry_close(creg)),
        ];
        for (name, code) in codes {
            check!(code == trackstats_result::Forked, "{name}: {code:?}");
        }
        let mut tot = trackstats_totals::default();
        check!(trackstats_track_totals(ct, &mut tot) == trackstats_result::Ok && tot.up_bytes == 31, "totals");
        trackstats_batch_free(batch);
        // Freeing prints nothing and waits for nothing: the threaded ones
        // (their thread is gone) and the one whose lock a parent thread held.
        trackstats_track_release(ct);
        trackstats_registry_free(creg);
        trackstats_track_release(ht);
        trackstats_registry_free(held);
        // SAFETY: the child's own copies (fork copied the parent's memory):
        // dropped here, once, and never used after; the parent's stay its own.
        drop(unsafe { (std::ptr::read(t_ref), std::ptr::read(closed_ref), std::ptr::read(threaded_ref)) });
        // A registry made in the child works as anywhere.
        let fresh = Registry::new(Config { interval: Duration::from_millis(5), ..Default::default() })
            .map_err(|e| format!("new: {e:?}"))?;
        check!(!fresh.inherited(), "a new registry is the child's own");
        let n = fresh.open(key(9)).map_err(|e| format!("open: {e:?}"))?;
        n.record_up(11);
        drop(n);
        fresh.close().map_err(|e| format!("close: {e:?}"))?;
        let mut got = Vec::new();
        fresh.drain(&mut got, 16);
        let bytes: u64 = got.iter().map(|r| r.bytes).sum();
        check!(bytes == 11, "the child's own registry reported {got:?}");
        Ok(())
    });
    assert_eq!((code, result.as_str()), (0, "ok"), "the child failed; it printed: {printed}");
    assert_eq!(printed, "", "the child printed something");

    // The parent goes on as if nothing happened.
    release.send(()).unwrap();
    assert_eq!(ticker.join().unwrap(), trackstats_result::Ok);
    drop((t, closed));
    threaded.close().unwrap();
    let mut got = Vec::new();
    while threaded.drain(&mut got, 64) > 0 {}
    let per =
        |id, dir| got.iter().filter(|r| r.key.user_data() == id && r.direction == dir).map(|r| r.bytes).sum::<u64>();
    assert_eq!((per(1, trackstats::Direction::Up), per(2, trackstats::Direction::Down)), (100, 7));
    trackstats_track_release(ct);
    trackstats_registry_free(creg);
    trackstats_track_release(ht);
    trackstats_registry_free(held);
}
