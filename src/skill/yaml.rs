//! The only module that knows the YAML library.
//!
//! serde_yaml is archived upstream; everything else sees [`Yaml`] and
//! [`YamlError`], so a maintained fork can replace it here alone.

/// A parsed YAML value.
pub use serde_yaml::Value as Yaml;

pub struct YamlError {
    pub message: String,
    /// Byte offset into the parsed text, when the parser knows it.
    pub offset: Option<usize>,
}

/// The largest frontmatter, and how deep its `[`/`{` may nest (serde_yaml's
/// own recursion limit, checked only after the whole document was scanned).
/// libyaml's scanner re-examines every open flow level at each token, so a
/// frontmatter of 100,000 `[` took 85 s before serde_yaml refused it
/// (tests/hostile_skills.rs `deeply_nested_yaml_is_refused`).
pub const MAX_FRONTMATTER_BYTES: usize = 64 << 10;
pub const MAX_FLOW_DEPTH: usize = 128;

/// Refuses what would make the YAML scanner slow, before it runs.
fn too_big(text: &str) -> Option<YamlError> {
    if text.len() > MAX_FRONTMATTER_BYTES {
        let message = format!("the frontmatter is {} KiB; the limit is {} KiB", text.len() >> 10, MAX_FRONTMATTER_BYTES >> 10);
        return Some(YamlError { message, offset: Some(MAX_FRONTMATTER_BYTES) });
    }
    // Flow brackets outside quoted scalars and comments (a rough scan: it
    // can only over-count, for brackets in plain scalars).
    let (mut depth, mut quote, mut comment, mut prev) = (0usize, None, false, ' ');
    for (i, c) in text.char_indices() {
        match (quote, c) {
            // Quoted scalars may span lines, but a bracket in one is counted
            // from its second line on: over-counting is the safe side.
            (_, '\n') => (comment, quote) = (false, None),
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if prev.is_whitespace() || matches!(prev, '[' | '{' | ',' | ':') => quote = Some(c),
            (None, '#') if prev.is_whitespace() => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    let message = format!("the frontmatter nests deeper than {MAX_FLOW_DEPTH} levels");
                    return Some(YamlError { message, offset: Some(i) });
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    None
}

pub fn parse(text: &str) -> Result<Yaml, YamlError> {
    if let Some(e) = too_big(text) {
        return Err(e);
    }
    serde_yaml::from_str::<Yaml>(text).map_err(|e| YamlError { offset: e.location().map(|l| l.index()), message: e.to_string() })
}

/// The string keys of a mapping, in document order.
pub fn mapping_entries(value: &Yaml) -> Option<Vec<(String, &Yaml)>> {
    let map = value.as_mapping()?;
    Some(
        map.iter()
            .map(|(k, v)| {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
                };
                (key, v)
            })
            .collect(),
    )
}

pub fn is_null(value: &Yaml) -> bool {
    value.is_null()
}
