//! The `skillc-lint` pre-commit hook (`.pre-commit-hooks.yaml`), run by the
//! real `pre-commit` tool the way a team uses it: a repository of skills
//! whose `.pre-commit-config.yaml` names this repository and a commit, and
//! `git commit`s that pass or fail.
//!
//! The hook repository is a snapshot of this crate's working tree committed
//! to a temporary git repository (so uncommitted changes are what is
//! tested), and pre-commit builds it with `cargo install` (`language: rust`),
//! as it does for users. The snapshot, pre-commit's cache and the build live
//! in `$CARGO_TARGET_DIR` (or `target/`) under `pre-commit-hook/`, and the
//! snapshot commit is deterministic: unchanged sources reuse the built hook.
//!
//! Skipped, with a message, when `pre-commit` or `git` is not installed,
//! unless `SKILLC_REQUIRE_PRE_COMMIT=1` (as `.ci/run` sets).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn available(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn run(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    // A hermetic git: no user configuration, a fixed identity.
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_CONFIG_NOSYSTEM", "1");
    for (k, v) in [("GIT_AUTHOR_NAME", "skillc test"), ("GIT_AUTHOR_EMAIL", "test@example.com")] {
        cmd.env(k, v);
    }
    cmd.env("GIT_COMMITTER_NAME", "skillc test").env("GIT_COMMITTER_EMAIL", "test@example.com");
    // Fixed dates: the same sources make the same commit, so pre-commit's
    // cache of the built hook (keyed by repository and rev) is reused.
    cmd.env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z").env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path, skip: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target, &[]);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Commits everything in `dir` (a fresh repository) and returns the commit.
fn init_and_commit(dir: &Path) -> String {
    ok(&run(dir, "git", &["init", "-q", "-b", "main"], &[]), "git init");
    ok(&run(dir, "git", &["add", "-A"], &[]), "git add");
    ok(&run(dir, "git", &["commit", "-q", "--no-verify", "-m", "snapshot"], &[]), "git commit");
    let head = run(dir, "git", &["rev-parse", "HEAD"], &[]);
    String::from_utf8(head.stdout).unwrap().trim().to_string()
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once in {}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

#[test]
fn the_hook_passes_good_commits_and_fails_broken_ones() {
    let required = std::env::var("SKILLC_REQUIRE_PRE_COMMIT").is_ok_and(|v| v == "1");
    for tool in ["pre-commit", "git"] {
        if !available(tool) {
            assert!(!required, "SKILLC_REQUIRE_PRE_COMMIT=1 but `{tool}` is not installed (pip install pre-commit)");
            eprintln!("note: `{tool}` is not installed; skipping the pre-commit hook test (pip install pre-commit)");
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let target_root = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| Path::new(MANIFEST).join("target"), PathBuf::from);
    let cache = target_root.join("pre-commit-hook");

    // The hook repository: this crate as it is now, at a fixed place so
    // that unchanged sources give the same repository and rev.
    let hook_repo = cache.join("skillc");
    if hook_repo.exists() {
        std::fs::remove_dir_all(&hook_repo).unwrap();
    }
    copy_dir(Path::new(MANIFEST), &hook_repo, &["target", ".git", "fuzz"]);
    let rev = init_and_commit(&hook_repo);

    // A team's repository of skills, using the hook as the README shows.
    let project = tmp.path().join("project");
    copy_dir(&Path::new(MANIFEST).join("skills"), &project.join("skills"), &[]);
    std::fs::write(
        project.join(".pre-commit-config.yaml"),
        format!("repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: skillc-lint\n", hook_repo.display()),
    )
    .unwrap();
    ok(&run(&project, "git", &["init", "-q", "-b", "main"], &[]), "git init");

    let home = cache.join("home");
    let target = cache.join("target");
    // pre-commit builds the hook with `cargo install`, i.e. the release
    // profile: fat LTO and one codegen unit, minutes on 2 cores. What this
    // test checks is the hook, not the optimised binary, so the build's
    // profile is overridden (cargo's CARGO_PROFILE_* variables, which
    // pre-commit passes through) to compile in a fraction of that.
    let (no, units, zero) = (Path::new("false"), Path::new("256"), Path::new("0"));
    let envs: &[(&str, &Path)] = &[
        ("PRE_COMMIT_HOME", &home),
        ("CARGO_TARGET_DIR", &target),
        ("CARGO_PROFILE_RELEASE_LTO", no),
        ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", units),
        ("CARGO_PROFILE_RELEASE_DEBUG", zero),
        ("CARGO_PROFILE_RELEASE_OPT_LEVEL", zero),
        ("CARGO_PROFILE_RELEASE_INCREMENTAL", no),
    ];
    let git = |args: &[&str]| run(&project, "git", args, envs);

    ok(&run(&project, "pre-commit", &["install"], envs), "pre-commit install");
    // The first commit builds the hook (cargo install) and lints every skill.
    let started = Instant::now();
    ok(&git(&["add", "-A"]), "git add");
    let out = git(&["commit", "-m", "skills"]);
    ok(&out, "the first commit (good skills)");
    eprintln!("note: building the hook and the first commit took {:.0} s", started.elapsed().as_secs_f64());
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("skillc lint") && log.contains("Passed"), "{log}");

    // A good change to a skill whose entity is declared in another skill:
    // only that file is passed, and its siblings give the context.
    let profile = project.join("skills/company-profile/SKILL.md");
    edit(&profile, "a real country, an industry", "a real country, one industry");
    ok(&git(&["add", "-A"]), "git add");
    let out = git(&["commit", "-m", "reword"]);
    ok(&out, "a good commit");

    // A broken rule fails the commit, with the diagnostic.
    let finance = project.join("skills/financial-consistency/SKILL.md");
    edit(&finance, "gross_margin ∈ [-1, 1]", "gross_margn ∈ [-1, 1]");
    ok(&git(&["add", "-A"]), "git add");
    let out = git(&["commit", "-m", "broken rule"]);
    assert!(!out.status.success(), "a commit with a broken rule passed");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("Failed"), "{log}");
    assert!(log.contains("error[unknown-field]"), "{log}");
    assert!(log.contains("skills/financial-consistency/SKILL.md:"), "{log}");

    // An example that no longer holds fails the commit too.
    edit(&finance, "gross_margn ∈ [-1, 1]", "gross_margin ∈ [-1, 1]");
    edit(&finance, "then gross_margin > 0.6", "then gross_margin > 0.3");
    ok(&git(&["add", "-A"]), "git add");
    let out = git(&["commit", "-m", "loosened rule"]);
    assert!(!out.status.success(), "a commit whose example fails passed");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("error[example-failed]"), "{log}");

    // Fixed (with a reworded sentence): the commit goes through.
    edit(&finance, "then gross_margin > 0.3", "then gross_margin > 0.6");
    edit(&finance, "Amounts are US dollars.", "Amounts are in US dollars.");
    ok(&git(&["add", "-A"]), "git add");
    ok(&git(&["commit", "-m", "fixed"]), "the fixed commit");
}
