//! Embeds every `skills/**/SKILL.md` into the binary.
use std::path::Path;

fn walk(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.file_name().is_some_and(|n| n == "SKILL.md") {
            out.push(path.strip_prefix(".").unwrap_or(&path).display().to_string());
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=skills");
    let mut files = Vec::new();
    walk(Path::new("skills"), &mut files);
    files.sort();
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let mut code = String::from("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
        code.push_str(&format!("    ({f:?}, include_str!({:?})),\n", format!("{manifest}/{f}")));
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_skills.rs");
    std::fs::write(out, code).unwrap();
}
