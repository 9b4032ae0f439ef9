//! The parse baselines of docs/performance.md: read a JSON Lines file in
//! 8 MiB chunks and parse every line of each chunk with rayon (the thread
//! count is rayon's default, `RAYON_NUM_THREADS` to change it), evaluating
//! no rule and keeping nothing but a count of objects and other lines.
//!
//! cargo run --release --example parse_baseline -- FILE [--parser P]
//!
//! P is one of:
//! - `serde_json` (the default): each line into a `serde_json::Value`;
//! - `sonic`: each line into a `sonic_rs::Value` (SIMD, a DOM per line);
//! - `sonic-lazy`: each line through `sonic_rs::to_object_iter`, every
//!   key read and every value skipped with sonic-rs's validating skip
//!   (syntax only: sonic-rs's skip does not check a number's range or an
//!   escape's surrogates), the floor for a reader that builds nothing.
//!
//! skillc's targets: within 1.5x of `serde_json`, within 3x of `sonic`.

use rayon::prelude::*;
use std::io::Read;

#[derive(Clone, Copy)]
enum Parser {
    SerdeJson,
    Sonic,
    SonicLazy,
}

/// True when the line is a JSON object the parser accepts.
fn parse(parser: Parser, line: &[u8]) -> bool {
    match parser {
        Parser::SerdeJson => serde_json::from_slice::<serde_json::Value>(line).is_ok_and(|v| v.is_object()),
        Parser::Sonic => sonic_rs::from_slice::<sonic_rs::Value>(line).is_ok_and(|v| sonic_rs::JsonValueTrait::is_object(&v)),
        Parser::SonicLazy => {
            let mut keys = 0usize;
            for pair in sonic_rs::to_object_iter(line) {
                match pair {
                    Ok((key, _value)) => keys += key.len(),
                    Err(_) => return false,
                }
            }
            std::hint::black_box(keys);
            true
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut path, mut parser) = (None, Parser::SerdeJson);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--parser" => {
                parser = match args.next().as_deref() {
                    Some("serde_json") => Parser::SerdeJson,
                    Some("sonic") => Parser::Sonic,
                    Some("sonic-lazy") => Parser::SonicLazy,
                    other => panic!("--parser: serde_json, sonic or sonic-lazy, not {other:?}"),
                }
            }
            _ => path = Some(arg),
        }
    }
    let path = path.expect("usage: parse_baseline FILE [--parser serde_json|sonic|sonic-lazy]");
    let mut file = std::fs::File::open(&path).expect("open");
    let mut buf: Vec<u8> = Vec::new();
    let (mut objects, mut errors) = (0usize, 0usize);
    let mut chunk = vec![0u8; 8 << 20];
    loop {
        let n = file.read(&mut chunk).expect("read");
        buf.extend_from_slice(&chunk[..n]);
        let cut = if n == 0 { buf.len() } else { memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1) };
        let lines: Vec<&[u8]> = buf[..cut].split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let (ok, bad) =
            lines.par_iter().map(|l| if parse(parser, l) { (1, 0) } else { (0, 1) }).reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        objects += ok;
        errors += bad;
        buf.drain(..cut);
        if n == 0 {
            break;
        }
    }
    println!("{objects} objects, {errors} other lines");
}
