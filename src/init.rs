//! `skillc init`: scaffolds a skill a new user can run at once — valid
//! frontmatter, an ```` ```entity ```` block, one rule with its prose and a
//! passing and a failing example. Standalone: it declares its own entity,
//! so it compiles without the shipped skills.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The rule the scaffold holds (its examples name it).
pub const RULE_ID: &str = "quantity-not-negative";

/// The text of `<name>/SKILL.md`; `dir` is the folder the skill is made in,
/// as the user named it, for the commands the prose suggests.
pub fn template(dir: &str, name: &str, entity: &str) -> String {
    format!(
        r#"---
name: {name}
description: What a valid `{entity}` record looks like. Use it when writing {entity} records, and when one is rejected.
applies_to: {entity}
---

# `{entity}` records

A dataset is a JSON Lines file: one `{entity}` per line, one JSON object per
line. `skillc check DATASET --skills {dir}` checks a dataset against the skills
of `{dir}`, and `skillc test {dir}` runs the examples below (docs/language.md
describes the language).

## Fields

The declaration below is checked first: a required field that is missing,
`null` or of the wrong type rejects the record under `schema`. A field marked
`?` is optional: absent or `null`. Fields it does not name are allowed.

```entity {entity}
key id              # unique across the dataset
id: string          # a stable slug such as "blue-widget"
name: string        # what people call it
quantity: integer   # how many there are
note: string?       # optional
```

## Hard constraints

Each rule is a fenced `rule` block, and the prose around it is the message
`skillc check` quotes when a record breaks it. The examples next to a rule
show what passes and what fails, and are its tests. A rule under a heading
that starts with `Plausibility` flags a record for review instead of
rejecting it.

- The `quantity` of a `{entity}` is never negative: write `0` for none.
  ```rule {RULE_ID}
  quantity >= 0
  ```
  ```jsonl example pass {RULE_ID}
  {{"id":"blue-widget","name":"Blue widget","quantity":12}}
  {{"id":"red-widget","name":"Red widget","quantity":0,"note":"sold out"}}
  ```
  ```jsonl example fail {RULE_ID}
  {{"id":"green-widget","name":"Green widget","quantity":-3}}
  ```
"#
    )
}

/// Why `entity` cannot name an entity, if it cannot (docs/language.md
/// section 2.1: ASCII letters, digits and `_`, not starting with a digit).
fn entity_problem(entity: &str) -> Option<&'static str> {
    if entity.is_empty() {
        Some("it is empty")
    } else if !entity.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some("only ASCII letters, digits and `_` are allowed")
    } else if entity.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it must not start with a digit")
    } else {
        None
    }
}

/// Writes `dir/name/SKILL.md`; refuses to overwrite a file. Returns its
/// path. The text is compiled first, so a scaffold that would not compile
/// is never written (no name that passes the checks above is known to do
/// that; the guard keeps it so when the language changes).
pub fn scaffold(dir: &Path, name: &str, entity: &str) -> Result<PathBuf, String> {
    if let Some(problem) = crate::skill::frontmatter::name_problem(name) {
        return Err(format!("invalid skill name `{name}`: {problem}"));
    }
    if let Some(problem) = entity_problem(entity) {
        return Err(format!("invalid entity name `{entity}`: {problem}"));
    }
    let path = dir.join(name).join("SKILL.md");
    let text = template(&dir.display().to_string(), name, entity);
    let (_, diags) = crate::compile_sources(&[(path.display().to_string(), text.clone())]);
    if let Some(d) = diags.iter().find(|d| d.is_error()) {
        return Err(format!("cannot scaffold a skill with the entity `{entity}`: {}", d.message));
    }
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).map_err(|e| format!("cannot create `{}`: {}", folder.display(), e.to_string().to_lowercase()))?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("`{}` already exists; not overwritten", path.display())
        } else {
            format!("cannot write `{}`: {}", path.display(), e.to_string().to_lowercase())
        }
    })?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write `{}`: {}", path.display(), e.to_string().to_lowercase()))?;
    Ok(path)
}
