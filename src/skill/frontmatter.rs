//! Frontmatter: split it off, parse it, check it against the Agent Skills
//! specification plus skillc's own `applies_to`.

use super::yaml::{self, Yaml};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// What the rest of the compiler needs from the frontmatter.
#[derive(Clone, Debug, Default)]
pub struct Frontmatter {
    pub name: Option<String>,
    pub applies_to: Option<(String, Span)>,
    /// Where the frontmatter is (its opening line when it has no content).
    pub span: Option<Span>,
    /// Warning codes this file turns off: `metadata: skillc-allow: "a b"`.
    pub allow: Vec<Code>,
}

/// The `metadata` key that turns warnings off for one file.
pub const ALLOW_KEY: &str = "skillc-allow";

/// Splits `text` into frontmatter (YAML between `---` lines) and body.
/// Returns the YAML byte range and the body start.
pub fn split(text: &str) -> Result<(std::ops::Range<usize>, usize), (Code, std::ops::Range<usize>)> {
    let start = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let first_end = text[start..].find('\n').map_or(text.len(), |i| start + i + 1);
    if text[start..first_end].trim_end() != "---" {
        return Err((Code::FrontmatterMissing, start..first_end.min(start + 3)));
    }
    let mut pos = first_end;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let line = text[pos..end].trim_end();
        if line == "---" || line == "..." {
            return Ok((first_end..pos, end));
        }
        pos = end;
    }
    Err((Code::FrontmatterUnterminated, start..first_end))
}

const KNOWN: &[&str] = &["name", "description", "license", "compatibility", "metadata", "allowed-tools", "applies_to"];

/// Parses and checks the frontmatter of `text` (the whole file).
pub fn check(file: FileId, text: &str, folder: Option<&str>, diags: &mut Vec<Diagnostic>) -> (Frontmatter, usize) {
    let span = |r: std::ops::Range<usize>| Span::new(file, r.start, r.end);
    let (yaml_range, body_start) = match split(text) {
        Ok(split) => split,
        Err((code, range)) => {
            let message = match code {
                Code::FrontmatterMissing => "missing frontmatter: a skill file starts with a `---` line",
                _ => "unterminated frontmatter: no closing `---` line",
            };
            diags.push(
                Diagnostic::error(code, span(range), message)
                    .with_help("start the file with `---`, then `name: …` and `description: …`, then `---`"),
            );
            let body = if code == Code::FrontmatterMissing { 0 } else { text.len() };
            return (Frontmatter::default(), body);
        }
    };
    let yaml_text = &text[yaml_range.clone()];
    let whole = span(yaml_range.start.saturating_sub(4)..yaml_range.start.saturating_sub(1));
    let mut fm = Frontmatter { span: Some(whole), ..Frontmatter::default() };
    let value = match yaml::parse(yaml_text) {
        Ok(v) => v,
        Err(e) => {
            let at = yaml_range.start + e.offset.unwrap_or(0).min(yaml_text.len());
            let message = e.message.split(" at line ").next().unwrap_or(&e.message).to_string();
            diags.push(Diagnostic::error(Code::FrontmatterYaml, span(at..at + 1), format!("invalid YAML in frontmatter: {message}")));
            return (fm, body_start);
        }
    };
    let Some(entries) = yaml::mapping_entries(&value) else {
        diags.push(Diagnostic::error(Code::FrontmatterNotMapping, whole, "the frontmatter must be a mapping of keys to values"));
        return (fm, body_start);
    };
    // The span of `key:` at the start of a top-level line, for pointing at it.
    let key_span = |key: &str| -> Span {
        let mut pos = 0;
        for line in yaml_text.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix(key) {
                if rest.trim_start().starts_with(':') {
                    let at = yaml_range.start + pos;
                    return span(at..at + line.trim_end().len());
                }
            }
            pos += line.len();
        }
        whole
    };
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v);

    for (key, _) in &entries {
        if !KNOWN.contains(&key.as_str()) {
            diags.push(
                Diagnostic::warning(Code::FrontmatterUnknownField, key_span(key), format!("unknown frontmatter field `{key}`"))
                    .with_help("the Agent Skills fields are name, description, license, compatibility, metadata and allowed-tools; put other data under `metadata`"),
            );
        }
    }

    match get("name") {
        None | Some(Yaml::Null) => diags.push(Diagnostic::error(Code::NameMissing, whole, "missing `name` in frontmatter")),
        Some(Yaml::String(name)) => {
            let s = key_span("name");
            if let Some(problem) = name_problem(name) {
                diags.push(Diagnostic::error(Code::NameInvalid, s, format!("invalid skill name `{name}`: {problem}")));
            } else if let Some(folder) = folder {
                if folder != name {
                    diags.push(
                        Diagnostic::error(Code::NameMismatch, s, format!("skill name `{name}` does not match its folder `{folder}`"))
                            .with_help(format!("rename the folder to `{name}` or set `name: {folder}`")),
                    );
                }
            }
            fm.name = Some(name.clone());
        }
        Some(_) => diags.push(Diagnostic::error(Code::NameInvalid, key_span("name"), "`name` must be a string")),
    }

    match get("description") {
        None | Some(Yaml::Null) => diags.push(Diagnostic::error(Code::DescriptionMissing, whole, "missing `description` in frontmatter")),
        Some(Yaml::String(d)) if d.trim().is_empty() => {
            diags.push(Diagnostic::error(Code::DescriptionMissing, key_span("description"), "`description` is empty"))
        }
        Some(Yaml::String(d)) => {
            let n = d.chars().count();
            if n > 1024 {
                diags.push(Diagnostic::error(
                    Code::DescriptionTooLong,
                    key_span("description"),
                    format!("`description` is {n} characters long; the limit is 1024"),
                ));
            }
        }
        Some(_) => diags.push(Diagnostic::error(Code::DescriptionMissing, key_span("description"), "`description` must be a string")),
    }

    match get("compatibility") {
        None => {}
        Some(Yaml::String(c)) if !c.is_empty() && c.chars().count() <= 500 => {}
        Some(Yaml::String(c)) => diags.push(Diagnostic::error(
            Code::CompatibilityInvalid,
            key_span("compatibility"),
            format!("`compatibility` must be 1-500 characters, not {}", c.chars().count()),
        )),
        Some(_) => diags.push(Diagnostic::error(Code::CompatibilityInvalid, key_span("compatibility"), "`compatibility` must be a string")),
    }

    match get("license") {
        None | Some(Yaml::String(_)) => {}
        Some(_) => diags.push(Diagnostic::error(Code::LicenseInvalid, key_span("license"), "`license` must be a string")),
    }

    match get("metadata") {
        None => {}
        Some(m @ Yaml::Mapping(_)) => {
            for (k, v) in yaml::mapping_entries(m).unwrap_or_default() {
                if !matches!(v, Yaml::String(_)) {
                    diags.push(
                        Diagnostic::warning(Code::MetadataValueNotString, key_span("metadata"), format!("`metadata.{k}` is not a string"))
                            .with_help("quote the value so it stays a string"),
                    );
                } else if let (ALLOW_KEY, Yaml::String(codes)) = (k.as_str(), v) {
                    fm.allow = allowed_codes(codes, key_span("metadata"), diags);
                }
            }
        }
        Some(_) => diags.push(Diagnostic::error(Code::MetadataInvalid, key_span("metadata"), "`metadata` must be a mapping")),
    }

    match get("allowed-tools") {
        None | Some(Yaml::String(_)) => {}
        Some(Yaml::Sequence(items)) if items.iter().all(|i| matches!(i, Yaml::String(_))) => {}
        Some(_) => diags.push(Diagnostic::error(
            Code::AllowedToolsInvalid,
            key_span("allowed-tools"),
            "`allowed-tools` must be a string or a list of strings",
        )),
    }

    match get("applies_to") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::String(entity)) => {
            let s = key_span("applies_to");
            fm.applies_to = Some((entity.clone(), s));
        }
        Some(_) => {
            diags.push(Diagnostic::error(Code::AppliesToInvalid, key_span("applies_to"), "`applies_to` must be the name of an entity"))
        }
    }
    let _ = yaml::is_null;
    (fm, body_start)
}

/// The codes of a `skillc-allow` value (separated by spaces or commas);
/// a word that is not a warning code is reported and ignored.
fn allowed_codes(text: &str, span: Span, diags: &mut Vec<Diagnostic>) -> Vec<Code> {
    let mut codes = Vec::new();
    for word in text.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
        match Code::named(word) {
            Some(code) if code.can_be_allowed() => codes.push(code),
            Some(_) => diags.push(Diagnostic::warning(
                Code::MetadataInvalid,
                span,
                format!("`{ALLOW_KEY}` names `{word}`, an error, which cannot be turned off"),
            )),
            None => {
                let mut d = Diagnostic::warning(
                    Code::MetadataInvalid,
                    span,
                    format!("`{ALLOW_KEY}` names `{word}`, which is not a diagnostic code"),
                );
                let warnings = Code::ALL.iter().filter(|c| c.can_be_allowed()).map(|c| c.as_str());
                if let Some(h) = crate::diagnostic::did_you_mean(word, warnings) {
                    d = d.with_help(h);
                }
                diags.push(d.with_help("`skillc explain` lists the codes"));
            }
        }
    }
    codes
}

/// Why `name` breaks the naming convention, if it does.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.chars().count() > 64 {
        Some("it is longer than 64 characters")
    } else if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        Some("only lower-case letters, digits and hyphens are allowed")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("it must not start or end with a hyphen")
    } else if name.contains("--") {
        Some("it must not contain two hyphens in a row")
    } else {
        None
    }
}
