//! One fixture per diagnostic code, rendered for the terminal (without
//! colour) and as JSON Lines, and compared with the snapshots committed
//! under `tests/snapshots/`.
//!
//! A fixture is the folder `tests/fixtures/diagnostics/<code>/`: the skill
//! folders below it are linted together with `skillc::lint::lint_paths`, or,
//! when the folder holds a `paths.txt`, the paths listed there (relative to
//! the folder). Every fixture must produce at least one diagnostic of its
//! code.
//!
//! To add a code: add its fixture folder, a line to `fixtures!` below, run
//! `INSTA_UPDATE=always cargo test --test diagnostics`, read the new `.snap`
//! file, and describe the code in docs/diagnostics.md.

use skillc::diagnostic::{render_json, render_terminal, Code};
use std::path::{Path, PathBuf};

const FIXTURES: &str = "tests/fixtures/diagnostics";

/// Codes no skill file can trigger, with the reason.
const UNREACHABLE: &[(Code, &str)] = &[
    (
        Code::SqlUnsupported,
        // Reported by `skillc sql` and `check --engine`, which lower the
        // compiled rules to SQL, never by `lint`; tests/engine_agreement.rs
        // snapshots it.
        "reported when a rule is lowered to SQL, not when skills are linted",
    ),
    (
        Code::UnknownName,
        // `Lowerer::name` reports an unresolved bare name as `unknown-field`
        // whenever the rule has an entity, and the compiler only type-checks
        // rules whose skill names an entity in `applies_to`: `unknown-name` is
        // left for expressions checked without an entity, which no skill file
        // produces.
        "bare names of a rule are always resolved against its entity, so they are reported as `unknown-field`",
    ),
];

/// The paths a fixture compiles (relative to the crate, so the snapshots
/// hold the same file names on every machine).
fn fixture_paths(code: &str) -> Vec<PathBuf> {
    let dir = Path::new(FIXTURES).join(code);
    match std::fs::read_to_string(dir.join("paths.txt")) {
        Ok(list) => list.lines().filter(|l| !l.trim().is_empty()).map(|l| dir.join(l.trim())).collect(),
        Err(_) => vec![dir],
    }
}

/// Lints a fixture (compiles it and, when it compiles, runs its examples,
/// like `skillc lint`) and renders its diagnostics both ways.
/// `rule-without-examples` is left out of the other codes' snapshots: most
/// fixtures hold rules no example names, and the warning has its own.
fn render(code: &str) -> String {
    let lint = skillc::lint::lint_paths(&fixture_paths(code));
    let (program, mut diags) = (lint.program, lint.diagnostics);
    if code != Code::RuleWithoutExamples.as_str() {
        diags.retain(|d| d.code != Code::RuleWithoutExamples);
    }
    assert!(
        diags.iter().any(|d| d.code.as_str() == code),
        "fixture `{code}` does not produce `{code}`; it produced {:?}",
        diags.iter().map(|d| d.code.as_str()).collect::<Vec<_>>()
    );
    let terminal = render_terminal(&program.db, &diags, false);
    let json = render_json(&program.db, &diags);
    format!("{terminal}\n---- json ----\n{json}")
}

macro_rules! fixtures {
    ($($test:ident => $code:literal,)*) => {
        $(
            #[test]
            fn $test() {
                insta::assert_snapshot!($code, render($code));
            }
        )*
        /// The codes that have a snapshot test.
        const TESTED: &[&str] = &[$($code),*];
    };
}

fixtures! {
    io_error => "io-error",
    invalid_utf8 => "invalid-utf8",
    frontmatter_missing => "frontmatter-missing",
    frontmatter_unterminated => "frontmatter-unterminated",
    frontmatter_yaml => "frontmatter-yaml",
    frontmatter_not_mapping => "frontmatter-not-mapping",
    frontmatter_unknown_field => "frontmatter-unknown-field",
    name_missing => "name-missing",
    name_invalid => "name-invalid",
    name_mismatch => "name-mismatch",
    description_missing => "description-missing",
    description_too_long => "description-too-long",
    compatibility_invalid => "compatibility-invalid",
    license_invalid => "license-invalid",
    metadata_invalid => "metadata-invalid",
    metadata_value_not_string => "metadata-value-not-string",
    allowed_tools_invalid => "allowed-tools-invalid",
    applies_to_missing => "applies-to-missing",
    applies_to_invalid => "applies-to-invalid",
    no_rules => "no-rules",
    rule_missing_id => "rule-missing-id",
    rule_id_invalid => "rule-id-invalid",
    rule_id_reserved => "rule-id-reserved",
    duplicate_rule_id => "duplicate-rule-id",
    missing_message => "missing-message",
    syntax_error => "syntax-error",
    unknown_field => "unknown-field",
    unknown_function => "unknown-function",
    wrong_arity => "wrong-arity",
    type_mismatch => "type-mismatch",
    invalid_regex => "invalid-regex",
    invalid_number => "invalid-number",
    scope_mix => "scope-mix",
    edge_attribute_outside_filter => "edge-attribute-outside-filter",
    never_holds => "never-holds",
    never_applies => "never-applies",
    too_deep => "too-deep",
    entity_duplicate => "entity-duplicate",
    entity_missing_key => "entity-missing-key",
    entity_invalid => "entity-invalid",
    table_duplicate => "table-duplicate",
    table_invalid => "table-invalid",
    name_conflict => "name-conflict",
    example_invalid => "example-invalid",
    unknown_value => "unknown-value",
    rule_without_examples => "rule-without-examples",
    example_failed => "example-failed",
    rule_unsatisfiable => "rule-unsatisfiable",
    rules_contradict => "rules-contradict",
    rule_vacuous => "rule-vacuous",
    flag_implied => "flag-implied",
}

#[test]
fn every_code_has_a_fixture() {
    let mut missing = Vec::new();
    for &code in Code::ALL {
        let name = code.as_str();
        let dir = Path::new(FIXTURES).join(name);
        if let Some((_, why)) = UNREACHABLE.iter().find(|(c, _)| *c == code) {
            assert!(!why.is_empty());
            assert!(!dir.exists(), "`{name}` is listed as unreachable but has a fixture: add it to `fixtures!` instead");
            continue;
        }
        if !dir.is_dir() || !TESTED.contains(&name) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "diagnostic codes without a fixture (add tests/fixtures/diagnostics/<code>/ and a line to `fixtures!`): {missing:?}"
    );
    // And every fixture folder belongs to a code.
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(Code::named(&name).is_some(), "fixture folder `{name}` is not a diagnostic code");
        assert!(TESTED.contains(&name.as_str()), "fixture `{name}` has no line in `fixtures!`");
    }
}

/// docs/diagnostics.md lists every code with the text of `Code::summary`.
#[test]
fn every_code_is_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/diagnostics.md")).unwrap();
    for &code in Code::ALL {
        let heading = format!("## `{}`", code.as_str());
        let at = docs.find(&heading).unwrap_or_else(|| panic!("docs/diagnostics.md has no `{heading}` section"));
        let section = &docs[at..];
        let end = section[heading.len()..].find("\n## ").map_or(section.len(), |i| i + heading.len());
        let section = &section[..end];
        let flat = section.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(code.summary()), "the `{}` section does not quote its summary: {}", code.as_str(), code.summary());
    }
}

/// `skillc explain CODE` prints the code's section of docs/diagnostics.md:
/// every code has a fix, and an example unless no skill can trigger it.
#[test]
fn every_code_is_explained_with_an_example_and_a_fix() {
    for &code in Code::ALL {
        let name = code.as_str();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_skillc")).args(["explain", name]).output().unwrap();
        assert!(out.status.success(), "`skillc explain {name}` failed");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(&format!("{name}: {}\n", code.summary())), "`skillc explain {name}` starts with the summary:\n{text}");
        assert!(text.contains("\nFix: "), "the `{name}` section of docs/diagnostics.md has no `Fix:` paragraph:\n{text}");
        if !UNREACHABLE.iter().any(|(c, _)| *c == code) {
            assert!(
                text.contains(&format!("\n    warning[{name}]")) || text.contains(&format!("\n    error[{name}]")),
                "the `{name}` section of docs/diagnostics.md has no example of the diagnostic:\n{text}"
            );
        }
    }
}
