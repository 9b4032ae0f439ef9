//! `--history FILE`: one JSON line of scores per run, appended, so the
//! proposer reads earlier iterations from the filesystem (docs/loop.md).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

/// The SHA-256 of what `read` yields, in hex.
pub fn digest(mut read: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = read.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The SHA-256 of the skills a run used: every source file's name and
/// text, in the order they were compiled.
pub fn skills_digest(db: &crate::source::SourceDb) -> String {
    let mut hasher = Sha256::new();
    for (_, file) in db.files() {
        hasher.update((file.name.len() as u64).to_le_bytes());
        hasher.update(file.name.as_bytes());
        hasher.update((file.text.len() as u64).to_le_bytes());
        hasher.update(file.text.as_bytes());
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Now, as RFC 3339 UTC (`2026-12-02T18:29:58Z`).
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    rfc3339(secs)
}

/// Seconds since the Unix epoch as RFC 3339 UTC (days to a civil date by
/// the proleptic Gregorian calendar, H. Hinnant's algorithm).
pub fn rfc3339(secs: i64) -> String {
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// One history line: when, on what, with which skills, and the scores.
pub fn entry(input: &str, input_digest: &str, base: Option<(&str, &str)>, skills_digest: &str, scores: &Value) -> Value {
    let mut line = json!({
        "type": "history",
        "version": crate::report::OUTPUT_VERSION,
        "timestamp": now_utc(),
        "input": input,
        "input_sha256": input_digest,
        "skills_sha256": skills_digest,
        "scores": scores,
    });
    if let Some((path, digest)) = base {
        line["base"] = path.into();
        line["base_sha256"] = digest.into();
    }
    line
}

/// Appends `line` to the history file (created when missing), in one
/// write so concurrent runs do not interleave within a line.
pub fn append(path: &Path, line: &Value) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write `{}`: {}", path.display(), e.to_string().to_lowercase());
    let mut text = serde_json::to_vec(line).map_err(|e| e.to_string())?;
    text.push(b'\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    file.write_all(&text).map_err(io)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_236_198), "2026-12-02T18:29:58Z");
        assert_eq!(super::rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
