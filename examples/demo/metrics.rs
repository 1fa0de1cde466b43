//! `--metrics-addr`: serves the registry's Prometheus exposition at
//! `/metrics`, with the standard library only (one request per connection,
//! loopback use).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use trackstats::{PrometheusOptions, Registry};

/// Binds `addr` and answers scrapes on a background thread until the
/// process exits.
pub fn serve(reg: Arc<Registry>, addr: &str) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    println!("serving /metrics on http://{}/metrics", listener.local_addr()?);
    let opts = PrometheusOptions { per_track: true, max_track_series: 200, node_id: Some("demo".into()) };
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = answer(conn, &reg, &opts);
        }
    });
    Ok(())
}

fn answer(mut conn: TcpStream, reg: &Registry, opts: &PrometheusOptions) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&req);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = if line.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
        match reg.prometheus(opts) {
            Ok(text) => ("200 OK", text),
            Err(e) => ("500 Internal Server Error", format!("{e:?}\n")),
        }
    } else {
        ("404 Not Found", "try /metrics\n".to_string())
    };
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
