//! End to end with a real editor: Neovim's built-in LSP client, headless,
//! runs `skillc lsp` on a broken skill file (tests/nvim/e2e.lua), shows its
//! diagnostics, and drops them once the buffer is fixed.
//!
//! Skipped, with a message, when `nvim` is not installed, unless
//! `SKILLC_REQUIRE_NVIM=1` (as `.ci/run` sets it), which makes a missing or
//! too old `nvim` a failure.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

/// `nvim`'s (major, minor) version, or why it cannot be used.
fn nvim_version() -> Result<(u32, u32), String> {
    let out = Command::new("nvim").arg("--version").output().map_err(|e| format!("`nvim` is not installed ({e})"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    let version = first.strip_prefix("NVIM v").ok_or_else(|| format!("unexpected `nvim --version` output: {first}"))?;
    let mut parts = version.split(['.', '-']).map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => Ok((major, minor)),
        _ => Err(format!("unexpected `nvim --version` output: {first}")),
    }
}

/// Neovim 0.7 is the oldest whose client the script drives
/// (`vim.diagnostic`, `vim.json`, `vim.lsp.start_client`).
fn usable_nvim() -> Option<(u32, u32)> {
    let required = std::env::var("SKILLC_REQUIRE_NVIM").is_ok_and(|v| v == "1");
    let problem = match nvim_version() {
        Ok(v) if v >= (0, 7) => return Some(v),
        Ok((major, minor)) => format!("`nvim` {major}.{minor} is older than 0.7"),
        Err(e) => e,
    };
    assert!(!required, "SKILLC_REQUIRE_NVIM=1 but {problem}");
    println!("skipping the Neovim end-to-end test: {problem} (install it with `apt-get install neovim`)");
    None
}

const BROKEN: &str = r#"---
name: margins
description: Margins of a test company.
applies_to: company
---

# Margins

```entity company
key id
id: string
gross_margin: number
```

- `gross_margin` is a fraction between -1 and 1.
  ```rule gross-margin-range
  gross_margn ∈ [-1, 1]
  ```
  ```jsonl example pass gross-margin-range
  {"id":"fine","gross_margin":0.4}
  ```
  ```jsonl example fail gross-margin-range
  {"id":"off","gross_margin":1.5}
  ```
"#;

fn is_empty_list(v: &Value) -> bool {
    // Lua's empty table encodes as `{}`.
    v.as_array().is_some_and(Vec::is_empty) || v.as_object().is_some_and(|o| o.is_empty())
}

#[test]
fn neovim_shows_and_clears_skillc_diagnostics() {
    let Some((major, minor)) = usable_nvim() else { return };

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("project");
    let file = root.join("skills/margins/SKILL.md");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, BROKEN).unwrap();
    let out = dir.path().join("diagnostics.json");
    let script = Path::new(MANIFEST).join("tests/nvim/e2e.lua");

    let mut child = Command::new("nvim")
        .args(["--headless", "--clean", "-u", "NONE", "-i", "NONE", "-n"])
        .arg("-c")
        .arg(format!("luafile {}", script.display()))
        .env("SKILLC_BIN", env!("CARGO_BIN_EXE_skillc"))
        .env("SKILLC_ROOT", &root)
        .env("SKILLC_FILE", &file)
        .env("SKILLC_TYPO", "gross_margn ")
        .env("SKILLC_FIX", "gross_margin ")
        .env("SKILLC_OUT", &out)
        // Keep Neovim's state, cache and LSP log inside the temp folder.
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nvim");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("nvim {major}.{minor} did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "nvim failed: {status}\n{stderr}");

    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("no result from nvim ({e}):\n{stderr}"));
    let result: Value = serde_json::from_str(&text).unwrap();
    assert!(result.get("error").is_none(), "the script failed: {result}");
    assert_eq!(result["client"], Value::Bool(true), "{result}");

    // The broken buffer: lint's unknown-field, on the rule's line, at the typo.
    assert_eq!(result["first_in_time"], Value::Bool(true), "no diagnostics arrived: {result}");
    let first = result["first"].as_array().unwrap_or_else(|| panic!("{result}"));
    assert_eq!(first.len(), 1, "{result}");
    let line = BROKEN.lines().position(|l| l.contains("gross_margn")).unwrap();
    let col = BROKEN.lines().nth(line).unwrap().find("gross_margn").unwrap();
    assert_eq!(first[0]["code"], "unknown-field", "{result}");
    assert_eq!(first[0]["source"], "skillc", "{result}");
    assert_eq!(first[0]["lnum"], line, "{result}");
    assert_eq!(first[0]["col"], col, "{result}");
    assert!(first[0]["message"].as_str().unwrap().starts_with("unknown field `gross_margn` of `company`"), "{result}");

    // Fixed in the buffer (not saved): the client's list is emptied.
    assert_eq!(result["second_in_time"], Value::Bool(true), "diagnostics were not cleared: {result}");
    assert!(is_empty_list(&result["second"]), "{result}");
    println!("Neovim {major}.{minor}: diagnostics shown and cleared");
}
