//! The parse baseline of docs/performance.md: read a JSON Lines file in
//! chunks and parse every line into `serde_json::Value` with rayon (the
//! thread count is rayon's default, `RAYON_NUM_THREADS` to change it),
//! evaluating no rule. skillc's target is within 1.5x of this.
//!
//! cargo run --release --example parse_baseline -- FILE

use rayon::prelude::*;
use std::io::Read;

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_baseline FILE");
    let mut file = std::fs::File::open(&path).expect("open");
    let mut buf: Vec<u8> = Vec::new();
    let (mut objects, mut errors) = (0usize, 0usize);
    let mut chunk = vec![0u8; 8 << 20];
    loop {
        let n = file.read(&mut chunk).expect("read");
        buf.extend_from_slice(&chunk[..n]);
        let cut = if n == 0 { buf.len() } else { memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1) };
        let lines: Vec<&[u8]> = buf[..cut].split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let (ok, bad) = lines
            .par_iter()
            .map(|l| match serde_json::from_slice::<serde_json::Value>(l) {
                Ok(v) if v.is_object() => (1, 0),
                _ => (0, 1),
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        objects += ok;
        errors += bad;
        buf.drain(..cut);
        if n == 0 {
            break;
        }
    }
    println!("{objects} objects, {errors} other lines");
}
