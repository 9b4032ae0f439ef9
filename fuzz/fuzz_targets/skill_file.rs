//! The whole skill-file front end on arbitrary text: frontmatter (YAML),
//! Markdown, fenced blocks, the rule/entity/table grammar, name resolution
//! and type checking, with the shipped skills beside it. Every diagnostic
//! is rendered (spans must stay inside their file), and when the program
//! compiles it checks a small dataset, so fuzzed rules are evaluated too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillc::diagnostic::Diagnostic;

/// A few companies that exercise every shipped rule's fields and the
/// ownership graph (a cycle, a subsidiary, a duplicate key, a bad line).
const DATA: &[u8] = include_bytes!("../data/check.jsonl");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The fuzzed file replaces the shipped skill whose name its frontmatter
    // gives (so a mutated shipped skill does not collide with itself), and
    // is added beside them otherwise.
    let name = text.lines().find_map(|l| l.strip_prefix("name:")).map(str::trim).unwrap_or("fuzzed").to_string();
    let path = format!("skills/{name}/SKILL.md");
    let mut sources: Vec<(String, String)> =
        skillc::embedded::skills().into_iter().filter(|(p, _)| !p.ends_with(&format!("/{name}/SKILL.md"))).collect();
    sources.push((path, text.to_string()));
    let (program, diags) = skillc::compile_sources(&sources);
    let _ = skillc::diagnostic::render_terminal(&program.db, &diags, false);
    let _ = skillc::diagnostic::render_json(&program.db, &diags);
    let _ = skillc::report::rules_listing(&program, true);
    if diags.iter().any(Diagnostic::is_error) {
        return;
    }
    let Ok(compiled) = skillc::check::Compiled::new(program) else { return };
    let loaded = skillc::check::load(&compiled, DATA, None, true).expect("reading from memory cannot fail");
    let report = skillc::check::check(&compiled, None, loaded);
    let mut out = Vec::new();
    skillc::report::write_json(&compiled, &report, &mut out).expect("writing to memory cannot fail");
    let _ = skillc::report::render_text(&compiled, &report, 20, false);
});
