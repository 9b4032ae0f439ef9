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

pub fn parse(text: &str) -> Result<Yaml, YamlError> {
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
