//! The shipped skills, built into the binary so `skillc check` works from
//! any directory.

include!(concat!(env!("OUT_DIR"), "/embedded_skills.rs"));

/// (path, text) of every shipped skill file.
pub fn skills() -> Vec<(String, String)> {
    EMBEDDED.iter().map(|(p, t)| (format!("<embedded>/{p}"), t.to_string())).collect()
}
