//! Command-line flags of the demo (no dependency: a handful of `--name value`).

pub const USAGE: &str = "usage: demo [--interval-ms N] [--duration-s N] [--publishers N] [--subscribers N]
            [--rate MSGS_PER_S] [--writers N] [--top N]
            [--metrics-addr HOST:PORT] [--hold-s N] [--truth-out FILE]
  defaults: 5000 ms windows for 11 s (two full windows and the final flush),
            16 publishers x 6 subscribers, 1000 msg/s per publisher, 2 writers, top 5
  --metrics-addr  serve the Prometheus exposition at http://HOST:PORT/metrics
  --hold-s        keep serving /metrics this long after the final check
  --truth-out     write the ground truth per direction as JSON (for tests)";

pub struct Args {
    pub interval_ms: u64,
    pub duration_s: u64,
    pub publishers: usize,
    pub subscribers: usize,
    pub rate: u64,
    pub writers: usize,
    pub top: usize,
    pub metrics_addr: Option<String>,
    pub hold_s: u64,
    pub truth_out: Option<String>,
}

pub fn parse() -> Result<Args, String> {
    let mut a = Args {
        interval_ms: trackstats::TRACKSTATS_INTERVAL_DEFAULT_MS,
        duration_s: 11,
        publishers: 16,
        subscribers: 6,
        rate: 1000,
        writers: 2,
        top: 5,
        metrics_addr: None,
        hold_s: 0,
        truth_out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err("trackstats demo".into());
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--metrics-addr" => {
                a.metrics_addr = Some(v);
                continue;
            }
            "--truth-out" => {
                a.truth_out = Some(v);
                continue;
            }
            _ => {}
        }
        let n: u64 = v.parse().map_err(|_| format!("{flag}: '{v}' is not a number"))?;
        match flag.as_str() {
            "--interval-ms" => a.interval_ms = n,
            "--duration-s" => a.duration_s = n,
            "--publishers" => a.publishers = n as usize,
            "--subscribers" => a.subscribers = n as usize,
            "--rate" => a.rate = n,
            "--writers" => a.writers = n as usize,
            "--top" => a.top = n as usize,
            "--hold-s" => a.hold_s = n,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.interval_ms == 0 || a.publishers == 0 || a.writers == 0 || a.duration_s == 0 {
        return Err("interval, duration, publishers and writers must be > 0".into());
    }
    Ok(a)
}
