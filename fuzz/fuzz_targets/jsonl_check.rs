//! The JSON Lines reader and the checker, with the shipped skills, on
//! arbitrary bytes. Nothing is lost: every non-blank line is reported
//! exactly once, in order, counted in the summary, and gets exactly one
//! verdict. A line `=====` splits the input into a `--base` dataset and the
//! candidates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillc::check::{self, Compiled, Verdict};
use std::sync::OnceLock;

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        let (program, diags) = skillc::compile_sources(&skillc::embedded::skills());
        assert!(!diags.iter().any(skillc::diagnostic::Diagnostic::is_error), "the shipped skills compile");
        Compiled::new(program).expect("the shipped skills declare an entity")
    })
}

/// The non-blank lines of an input, as the reference rules define them:
/// lines end at `\n`, a byte-order mark at the start is ignored, a blank
/// line is empty or only spaces, tabs and `\r`. (1-based line numbers.)
fn non_blank_lines(input: &[u8]) -> Vec<u32> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    if input.is_empty() {
        return Vec::new();
    }
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    body.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')))
        .map(|(i, _)| i as u32 + 1)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let c = compiled();
    let sep = b"\n=====\n";
    let (base, candidates) = match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (Some(&data[..i + 1]), &data[i + sep.len()..]),
        None => (None, data),
    };
    let base = base.map(|b| check::load(c, b, None, false).expect("reading from memory cannot fail"));
    let loaded = check::load(c, candidates, None, true).expect("reading from memory cannot fail");
    let report = check::check(c, base, loaded);

    let expected = non_blank_lines(candidates);
    let reported: Vec<u32> = report.lines.iter().map(|l| l.line).collect();
    assert_eq!(reported, expected, "every non-blank line is reported once, in order");
    let s = &report.summary;
    assert_eq!(s.read, expected.len(), "the summary counts every non-blank line");
    assert_eq!(s.accepted + s.flagged + s.rejected, s.read, "every line has one verdict");
    let rejected = report.lines.iter().filter(|l| report.verdict(l) == Verdict::Rejected).count();
    assert_eq!(rejected, s.rejected);
    for l in &report.lines {
        assert_eq!(report.verdict(l) == Verdict::Accepted, report.reasons(l).is_empty(), "a line has reasons exactly when it is not accepted");
    }
    let mut out = Vec::new();
    skillc::report::write_json(c, &report, &mut out).expect("writing to memory cannot fail");
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<serde_json::Value>(line).expect("the report is JSON Lines");
    }
    let _ = skillc::report::render_text(c, &report, 20, false);
});
