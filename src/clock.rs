//! Monotonic time expressed as Unix nanoseconds: one wall-clock reading at
//! registry start, then only the monotonic clock, so window boundaries are
//! `origin + k * interval` exactly and never drift with NTP steps.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) struct Clock {
    origin: Instant,
    origin_unix_ns: u64,
}

impl Clock {
    pub fn new() -> Clock {
        let origin = Instant::now();
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { origin, origin_unix_ns: unix.as_nanos() as u64 }
    }

    pub fn origin_unix_ns(&self) -> u64 {
        self.origin_unix_ns
    }

    pub fn now_unix_ns(&self) -> u64 {
        self.unix_ns_of(Instant::now())
    }

    pub fn unix_ns_of(&self, t: Instant) -> u64 {
        self.origin_unix_ns + t.saturating_duration_since(self.origin).as_nanos() as u64
    }

    /// The instant of an absolute offset from the origin.
    pub fn instant_after_origin(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }

    pub fn elapsed_ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_nanos() as u64
    }
}
