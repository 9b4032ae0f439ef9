//! Small helpers for the tests of `check`'s options that run the real
//! binary (tests/output_files.rs, tests/cli_conveniences.rs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// A plausible private company; `extra` is spliced in before the closing
/// brace (start it with a comma).
pub fn company(id: &str, extra: &str) -> String {
    format!(
        r#"{{"id":"{id}","name":"{id} Ltd","industry":"Manufacturing","country":"GB","founded_year":1990,"public":false,"fiscal_year_end":"12-31","currency":"GBP","employee_count":500,"standalone_revenue":100000000,"consolidated_revenue":100000000,"gross_margin":0.3{extra}}}"#
    )
}

pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn status(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
