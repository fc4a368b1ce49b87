//! The load client of `bench/pinned.sh` and `bench/peers.sh` (not part of Keymint): keeps
//! 16 requests in flight over 16 keep-alive connections and **never sleeps**: it polls
//! its non-blocking sockets in a loop on its own CPU. A server's answer therefore never
//! has to wake a sleeping client (on a VM, a cross-CPU wake-up costs the server several
//! microseconds of kernel time per answer, which is the benchmark's cost, not the
//! server's), and the server always has a request waiting.
//!
//! It reads the server's CPU time (user + system, all threads, from `/proc/PID/stat`)
//! before and after the measured interval and prints the server's CPU microseconds per
//! answer: what one request costs the server's core, whatever the client does.
//!
//! ```text
//! pinned_client URL PATH SECONDS SERVER_PID healthz
//! pinned_client URL PATH SECONDS SERVER_PID post KEYS SECRET     # client_secret_post, keys kmc_bench00000001..
//! pinned_client URL PATH SECONDS SERVER_PID basic BASE64 SCOPE   # client_secret_basic, one client
//! pinned_client sign SECONDS                                      # one ES256 signature (Keymint's key), µs
//! ```
//! Prints one line: `RESULT rps=… cpu_us=… busy=… requests=… errors=…` (`busy` is the
//! server's CPU seconds per wall second: 1.0 when its one core was saturated).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 16;

enum Kind {
    Healthz,
    Post { keys: u64, secret: String },
    Basic { auth: String, scope: String },
}

struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    waiting: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["sign", secs] => sign(secs.parse().expect("seconds")),
        [url, path, secs, pid, rest @ ..] => {
            let kind = match rest {
                ["healthz"] => Kind::Healthz,
                ["post", keys, secret] => Kind::Post {
                    keys: keys.parse().expect("keys"),
                    secret: (*secret).to_owned(),
                },
                ["basic", auth, scope] => Kind::Basic {
                    auth: (*auth).to_owned(),
                    scope: (*scope).to_owned(),
                },
                _ => usage(),
            };
            run(
                url,
                path,
                secs.parse().expect("seconds"),
                pid.parse().expect("pid"),
                &kind,
            );
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: pinned_client URL PATH SECONDS PID healthz|post KEYS SECRET|basic B64 SCOPE");
    eprintln!("       pinned_client sign SECONDS");
    std::process::exit(2)
}

fn request(kind: &Kind, host: &str, path: &str, counter: u64) -> Vec<u8> {
    match kind {
        Kind::Healthz => format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        Kind::Post { keys, secret } => {
            let body = format!(
                "grant_type=client_credentials&client_id=kmc_bench{:08}&client_secret={secret}",
                counter % keys + 1
            );
            format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
        Kind::Basic { auth, scope } => {
            let body = format!("grant_type=client_credentials&scope={scope}");
            format!(
                "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
    }
}

/// The length of the first complete response in `input` and whether it was a 200.
fn complete(input: &[u8]) -> Option<(usize, bool)> {
    let end = input.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&input[..end]).ok()?;
    let ok = head.starts_with("HTTP/1.1 200");
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .expect("responses carry Content-Length");
    (input.len() >= end + length).then_some((end + length, ok))
}

/// The server's CPU time so far (user + system, every thread, exited ones included).
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("server's /proc stat");
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let after = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let utime: f64 = fields[11].parse().expect("utime");
    let stime: f64 = fields[12].parse().expect("stime");
    (utime + stime) / ticks_per_second
}

fn ticks_per_second() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK")
}

fn run(url: &str, path: &str, secs: f64, pid: u32, kind: &Kind) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let ticks = ticks_per_second();
    let mut conns: Vec<Conn> = (0..CONNECTIONS)
        .map(|_| {
            let stream = TcpStream::connect(host).expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            stream.set_nonblocking(true).expect("nonblocking");
            Conn {
                stream,
                out: Vec::new(),
                written: 0,
                input: Vec::with_capacity(4096),
                waiting: false,
            }
        })
        .collect();
    let mut counter = 0u64;
    let mut buf = [0u8; 16384];
    // One second of warm-up, then the measured interval.
    let warm_until = Instant::now() + Duration::from_secs(1);
    let mut measuring: Option<(Instant, f64)> = None;
    let (mut answers, mut errors) = (0u64, 0u64);
    loop {
        let now = Instant::now();
        match measuring {
            None if now >= warm_until => {
                measuring = Some((now, cpu_seconds(pid, ticks)));
                answers = 0;
                errors = 0;
            }
            Some((started, _)) if now.duration_since(started).as_secs_f64() >= secs => break,
            _ => {}
        }
        for conn in &mut conns {
            if !conn.waiting {
                counter += 1;
                conn.out = request(kind, host, path, counter);
                conn.written = 0;
                conn.waiting = true;
            }
            if conn.written < conn.out.len() {
                match conn.stream.write(&conn.out[conn.written..]) {
                    Ok(n) => conn.written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("write: {e}"),
                }
            }
            match conn.stream.read(&mut buf) {
                Ok(0) => panic!("the server closed a connection"),
                Ok(n) => conn.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
            if let Some((len, ok)) = complete(&conn.input) {
                conn.input.drain(..len);
                conn.waiting = false;
                answers += 1;
                if !ok {
                    errors += 1;
                }
            }
        }
    }
    let (started, cpu_before) = measuring.expect("measured");
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid, ticks) - cpu_before;
    println!(
        "RESULT rps={:.1} cpu_us={:.2} busy={:.2} requests={answers} errors={errors}",
        answers as f64 / wall,
        cpu * 1e6 / answers as f64,
        cpu / wall
    );
}

/// One ES256 signature over a message the size of a token's signing input, with the
/// key type Keymint signs with: the cost the token path cannot avoid.
fn sign(secs: f64) {
    let (key, _) = keymint::signing::SigningKey::generate(keymint::signing::SigningAlg::Es256)
        .expect("generate");
    let message = vec![b'e'; 620];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < secs {
        for _ in 0..100 {
            std::hint::black_box(key.sign(std::hint::black_box(&message)));
        }
        n += 100;
    }
    println!(
        "RESULT sign_us={:.2} signatures={n}",
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
