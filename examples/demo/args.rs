//! Command-line flags of the demo (no dependency: a handful of `--name value`).

pub const USAGE: &str = "usage: demo [--interval-ms N] [--duration-s N] [--publishers N] [--subscribers N]
            [--rate MSGS_PER_S] [--writers N] [--top N]
  defaults: 5000 ms windows for 11 s (two full windows and the final flush),
            16 publishers x 6 subscribers, 1000 msg/s per publisher, 2 writers, top 5";

pub struct Args {
    pub interval_ms: u64,
    pub duration_s: u64,
    pub publishers: usize,
    pub subscribers: usize,
    pub rate: u64,
    pub writers: usize,
    pub top: usize,
}

pub fn parse() -> Result<Args, String> {
    let mut a =
        Args { interval_ms: 5000, duration_s: 11, publishers: 16, subscribers: 6, rate: 1000, writers: 2, top: 5 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err("trackstats demo".into());
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let n: u64 = v.parse().map_err(|_| format!("{flag}: '{v}' is not a number"))?;
        match flag.as_str() {
            "--interval-ms" => a.interval_ms = n,
            "--duration-s" => a.duration_s = n,
            "--publishers" => a.publishers = n as usize,
            "--subscribers" => a.subscribers = n as usize,
            "--rate" => a.rate = n,
            "--writers" => a.writers = n as usize,
            "--top" => a.top = n as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.interval_ms == 0 || a.publishers == 0 || a.writers == 0 || a.duration_s == 0 {
        return Err("interval, duration, publishers and writers must be > 0".into());
    }
    Ok(a)
}
