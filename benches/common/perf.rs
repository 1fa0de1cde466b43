//! Hardware cache-miss counters of the calling thread, read around a timed
//! loop (Linux `perf_event_open`, user-space events only). Where the kernel
//! or the hypervisor gives no hardware counters (many VMs: `perf stat -e
//! instructions true` prints `<not supported>`), `Counters::open` says why
//! and the bench reports the misses as not measured.
//!
//! The Go (`cbindings/go/trackstats/perf_linux_test.go`) and C++
//! (`cbindings/cpp/bench/perf_counters.hpp`) benches count the same two
//! events the same way.

/// The events counted, in the order `Counters::stop` returns them: L1 data
/// cache read misses (`perf stat -e L1-dcache-load-misses`) and the CPU's
/// generic "cache misses" (`-e cache-misses`, last-level on most CPUs).
pub const EVENT_NAMES: [&str; 2] = ["l1d_misses", "cache_misses"];

#[cfg(target_os = "linux")]
mod sys {
    /// (perf type, config) of each event in `EVENT_NAMES`:
    /// PERF_TYPE_HW_CACHE with L1D | OP_READ << 8 | RESULT_MISS << 16, and
    /// PERF_TYPE_HARDWARE with PERF_COUNT_HW_CACHE_MISSES.
    pub const EVENTS: [(u32, u64); 2] = [(3, 0x1_0000), (0, 3)];

    const IOC_ENABLE: libc::c_ulong = 0x2400;
    const IOC_DISABLE: libc::c_ulong = 0x2401;
    const IOC_RESET: libc::c_ulong = 0x2403;
    /// PERF_ATTR_SIZE_VER0: the kernel reads the first 64 bytes.
    const ATTR_SIZE: u32 = 64;
    /// perf_event_attr's flag bits: disabled, exclude_kernel, exclude_hv.
    const FLAGS: u64 = 1 | 1 << 5 | 1 << 6;

    pub fn open(kind: u32, config: u64) -> Result<i32, String> {
        // struct perf_event_attr (VER0): type u32 @0, size u32 @4, config
        // u64 @8, sample_period @16, sample_type @24, read_format @32,
        // flags @40, wakeup_events u32 @48, bp_type u32 @52, config1 @56.
        let mut attr = [0u64; 8];
        attr[0] = u64::from(kind) | u64::from(ATTR_SIZE) << 32;
        attr[1] = config;
        attr[5] = FLAGS;
        // SAFETY: attr is a valid, initialised perf_event_attr of the size
        // it states; pid 0 and cpu -1 mean this thread on any CPU, with no
        // group and no flags.
        let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), 0, -1, -1, 0) };
        if fd < 0 {
            return Err(format!("perf_event_open: {}", std::io::Error::last_os_error()));
        }
        Ok(fd as i32)
    }

    pub fn ioctl(fd: i32, request: libc::c_ulong) {
        // SAFETY: fd is a perf event this process opened; the requests take
        // no argument.
        unsafe { libc::ioctl(fd, request, 0) };
    }

    pub fn start(fd: i32) {
        ioctl(fd, IOC_RESET);
        ioctl(fd, IOC_ENABLE);
    }

    pub fn disable(fd: i32) {
        ioctl(fd, IOC_DISABLE);
    }

    pub fn read(fd: i32) -> u64 {
        let mut v = 0u64;
        // SAFETY: a perf event fd reads as one u64 (no read_format flags).
        let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
        if n == 8 {
            v
        } else {
            0
        }
    }

    pub fn close(fd: i32) {
        // SAFETY: fd is ours and closed once, by Counters::drop.
        unsafe { libc::close(fd) };
    }
}

/// Open counters of `EVENT_NAMES` on the calling thread; count only that
/// thread, so open, start and stop them on the thread that runs the loop.
pub struct Counters {
    #[cfg(target_os = "linux")]
    fds: Vec<i32>,
}

impl Counters {
    /// The counters, or why there are none on this machine.
    pub fn open() -> Result<Counters, String> {
        #[cfg(target_os = "linux")]
        {
            let mut fds = Vec::new();
            for (kind, config) in sys::EVENTS {
                match sys::open(kind, config) {
                    Ok(fd) => fds.push(fd),
                    Err(e) => {
                        fds.into_iter().for_each(sys::close);
                        return Err(e);
                    }
                }
            }
            Ok(Counters { fds })
        }
        #[cfg(not(target_os = "linux"))]
        Err("hardware counters are read on Linux only".into())
    }

    /// Zeroes and starts every counter.
    pub fn start(&self) {
        #[cfg(target_os = "linux")]
        self.fds.iter().for_each(|&fd| sys::start(fd));
    }

    /// Stops every counter and returns their counts since `start`.
    pub fn stop(&self) -> [u64; 2] {
        let mut out = [0u64; 2];
        #[cfg(target_os = "linux")]
        {
            self.fds.iter().for_each(|&fd| sys::disable(fd));
            for (o, &fd) in out.iter_mut().zip(&self.fds) {
                *o = sys::read(fd);
            }
        }
        out
    }
}

impl Drop for Counters {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        self.fds.iter().for_each(|&fd| sys::close(fd));
    }
}

/// CPU time the calling thread has run, from `CLOCK_THREAD_CPUTIME_ID`: on a
/// shared machine, time the thread spent descheduled is not the code's.
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
