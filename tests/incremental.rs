//! The base index (`skillc index`, the automatic `BASE.skillc-index`):
//! `check NEW --base BASE` gives the same bytes (the JSON report and both
//! split files) whether the base is read from its JSON (`--no-index`), from
//! an index built on the way, or from an index read back; and an index that
//! no longer fits its base or skills, or that is damaged, is never used.
//! The real binary on generated datasets in a temporary directory.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/gen.rs"]
mod gen;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn skillc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillc")).args(args).current_dir(dir).env("SKILLC_TIMINGS", "1").output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The phase line the check prints (under SKILLC_TIMINGS) when its base
/// came from an index.
const FROM_INDEX: &str = "base read from its index";

/// A generated base (groups, chains, minority stakes, 5% violations, the
/// format's texture) followed by hand-made records the candidates below
/// refer to: a holding with one subsidiary, and a chain whose top names an
/// owner that is not in the base (so a candidate with that id closes a
/// cycle through base records).
fn base_lines() -> Vec<u8> {
    // Bytes: the generator's texture includes lines that are not UTF-8.
    let mut text = Vec::new();
    gen::generate(&gen::GenConfig { companies: 3000, seed: 7, violations: 0.05 }, &mut text).unwrap();
    if !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    for line in [
        company("hold-top", "Holding", 50, 2_000_000, 90_000_000, None),
        company("hold-sub", "Manufacturing", 400, 80_000_000, 80_000_000, Some(("hold-top", 0.8))),
        company("loop-a", "Manufacturing", 300, 40_000_000, 40_000_000, Some(("loop-ghost", 0.9))),
        company("loop-b", "Manufacturing", 300, 30_000_000, 30_000_000, Some(("loop-a", 0.6))),
    ] {
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
    }
    text
}

fn company(id: &str, industry: &str, staff: u32, standalone: u64, consolidated: u64, owner: Option<(&str, f64)>) -> String {
    let owners = owner.map_or(String::new(), |(o, s)| format!(r#","owners":[{{"id":"{o}","stake":{s}}}]"#));
    format!(
        r#"{{"id":"{id}","name":"{id} Ltd","industry":"{industry}","country":"GB","founded_year":1990,"public":false,"exchange":null,"ticker":null,"fiscal_year_end":"12-31","currency":"GBP","employee_count":{staff},"standalone_revenue":{standalone},"consolidated_revenue":{consolidated},"intercompany_eliminations":0,"equity_method_income":null,"gross_margin":0.3,"arr":null{owners},"behaviour_class":"happy-path"}}"#
    )
}

fn big_saas(id: &str, staff: u32) -> String {
    format!(
        r#"{{"id":"{id}","name":"{id} Inc.","industry":"SaaS","country":"US","founded_year":2012,"public":false,"exchange":null,"ticker":null,"fiscal_year_end":"12-31","currency":"USD","employee_count":{staff},"standalone_revenue":420000000,"consolidated_revenue":420000000,"intercompany_eliminations":0,"equity_method_income":null,"gross_margin":0.81,"arr":398000000,"behaviour_class":"happy-path"}}"#
    )
}

/// The ids of the base's records, in order.
fn base_ids(base: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(base)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?.get("id")?.as_str().map(str::to_string))
        .collect()
}

/// Candidates of every kind the index must get right.
fn candidates(base: &[u8]) -> String {
    let ids = base_ids(base);
    let mut lines = vec![
        // Joins an existing group: owned by a base holding, so the
        // holding's sums change.
        company("cand-joins", "Manufacturing", 200, 30_000_000, 30_000_000, Some(("hold-top", 0.7))),
        // Owned by a base record that is itself a subsidiary.
        company("cand-under-sub", "Retail", 100, 9_000_000, 9_000_000, Some(("hold-sub", 0.3))),
        // Closes a cycle through base records: loop-a names it as owner,
        // and it is owned by loop-b, which loop-a owns.
        company("loop-ghost", "Holding", 20, 1_000_000, 71_000_000, Some(("loop-b", 0.5))),
        // Duplicates base ids (a generated one and a hand-made one).
        company(&ids[10], "Manufacturing", 300, 10_000_000, 10_000_000, None),
        company("hold-sub", "Manufacturing", 300, 10_000_000, 10_000_000, None),
        // Names an owner nobody has.
        company("cand-dangling", "Manufacturing", 300, 10_000_000, 10_000_000, Some(("nobody-at-all", 0.5))),
        // Broken: not JSON, a schema failure, a record-local failure.
        "{\"id\": \"broken\"".to_string(),
        company("cand-schema", "Manufacturing", 300, 10_000_000, 10_000_000, None)
            .replace("\"employee_count\":300", "\"employee_count\":\"many\""),
        company("cand-local", "Manufacturing", 300, 10_000_000, 5_000_000, None),
        String::new(),
    ];
    // Enough understaffed large SaaS companies to tip the dataset share of
    // well-staffed ones below its 95%.
    for i in 0..120 {
        lines.push(big_saas(&format!("cand-saas-{i}"), 12));
    }
    lines.join("\n") + "\n"
}

struct Run {
    report: Vec<u8>,
    accepted: Vec<u8>,
    rejected: Vec<u8>,
    stderr: String,
    status: i32,
}

fn check(dir: &Path, candidates: &str, base: &str, extra: &[&str]) -> Run {
    check_under(&root().join("skills"), dir, candidates, base, extra)
}

fn check_under(skills: &Path, dir: &Path, candidates: &str, base: &str, extra: &[&str]) -> Run {
    let (acc, rej) = (dir.join("accepted.jsonl"), dir.join("rejected.jsonl"));
    let _ = std::fs::remove_file(&acc);
    let _ = std::fs::remove_file(&rej);
    let mut args =
        vec!["check", candidates, "--base", base, "--format", "json", "--accepted", "accepted.jsonl", "--rejected", "rejected.jsonl"];
    args.extend(["--skills", skills.to_str().unwrap()]);
    args.extend(extra);
    let out = skillc_in(dir, &args);
    Run {
        report: out.stdout.clone(),
        accepted: std::fs::read(&acc).unwrap_or_default(),
        rejected: std::fs::read(&rej).unwrap_or_default(),
        stderr: stderr(&out),
        status: out.status.code().unwrap_or(-1),
    }
}

fn assert_same(full: &Run, other: &Run, what: &str) {
    assert_eq!(String::from_utf8_lossy(&full.report), String::from_utf8_lossy(&other.report), "{what}: the JSON report differs");
    assert_eq!(full.accepted, other.accepted, "{what}: the accepted file differs");
    assert_eq!(full.rejected, other.rejected, "{what}: the rejected file differs");
    assert_eq!(full.status, other.status, "{what}: the exit status differs");
}

struct Setup {
    dir: tempfile::TempDir,
    base: Vec<u8>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let base = base_lines();
    std::fs::write(dir.path().join("base.jsonl"), &base).unwrap();
    std::fs::write(dir.path().join("new.jsonl"), candidates(&base)).unwrap();
    Setup { dir, base }
}

fn index_path(s: &Setup) -> PathBuf {
    s.dir.path().join("base.jsonl.skillc-index")
}

#[test]
fn a_check_from_the_index_equals_the_check_from_the_json() {
    let s = setup();
    let dir = s.dir.path();
    let full = check(dir, "new.jsonl", "base.jsonl", &["--no-index"]);
    assert!(!index_path(&s).exists(), "--no-index writes no index");
    // The report is about what the candidates were built to exercise.
    let lines: Vec<Value> = String::from_utf8_lossy(&full.report).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let reasons = |entity: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["type"] == "entity" && l["entity"] == entity)
            .flat_map(|l| l["reasons"].as_array().cloned().unwrap_or_default())
            .map(|r| r["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(reasons("loop-ghost").contains(&"ownership-acyclic".to_string()), "{lines:?}");
    assert!(reasons("hold-sub").contains(&"unique-id".to_string()));
    assert!(reasons("cand-dangling").contains(&"owners-exist".to_string()));
    assert!(lines.iter().any(|l| l["type"] == "dataset" && l["rule"] == "saas-scale-staffing-share"), "the share is tipped");

    let built = check(dir, "new.jsonl", "base.jsonl", &[]);
    assert!(index_path(&s).exists(), "the first check writes the automatic index");
    assert!(!built.stderr.contains(FROM_INDEX));
    assert_same(&full, &built, "while building the index");
    let read = check(dir, "new.jsonl", "base.jsonl", &[]);
    assert!(read.stderr.contains(FROM_INDEX), "the second check reads the index: {}", read.stderr);
    // A dataset rule fails: its explanation needs the whole base, read from
    // the index's snapshot.
    assert!(read.stderr.contains(GAVE_WAY), "{}", read.stderr);
    assert_same(&full, &read, "from the index");
}

/// The phase lines of the incremental check, and of its fallback to the
/// whole base.
const INCREMENTAL: &str = "base records the candidates reach";
const GAVE_WAY: &str = "incremental check gave way to the full base";

#[test]
fn the_base_alone_does_not_trip_the_share_the_candidates_tip() {
    // Without the SaaS candidates the share holds: the candidates above
    // move a dataset rule across its bound, not a base that already failed.
    let s = setup();
    let dir = s.dir.path();
    let plain: String = candidates(&s.base).lines().filter(|l| !l.contains("cand-saas-")).map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("plain.jsonl"), plain).unwrap();
    let full = check(dir, "plain.jsonl", "base.jsonl", &["--no-index"]);
    assert!(!String::from_utf8_lossy(&full.report).contains("saas-scale-staffing-share\",\"type\":\"dataset"));
    let lines: Vec<Value> = String::from_utf8_lossy(&full.report).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.iter().any(|l| l["type"] == "dataset" && l["rule"] == "saas-scale-staffing-share"));
    check(dir, "plain.jsonl", "base.jsonl", &[]);
    let read = check(dir, "plain.jsonl", "base.jsonl", &[]);
    assert!(read.stderr.contains(FROM_INDEX));
    // Every dataset rule holds: the check is incremental all the way.
    assert!(read.stderr.contains(INCREMENTAL) && !read.stderr.contains(GAVE_WAY), "{}", read.stderr);
    assert_same(&full, &read, "without the tipping candidates");
}

#[test]
fn skillc_index_writes_what_check_reads_and_a_named_index_must_match() {
    let s = setup();
    let dir = s.dir.path();
    let skills = root().join("skills");
    let out = skillc_in(dir, &["index", "base.jsonl", "-o", "elsewhere.idx", "--skills", skills.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("into `elsewhere.idx`"), "{}", stderr(&out));
    // The index is a function of the base and the skills: built again (by
    // another process, whose hashers are seeded anew), it is the same bytes.
    let again = skillc_in(dir, &["index", "base.jsonl", "-o", "again.idx", "--skills", skills.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(std::fs::read(dir.join("elsewhere.idx")).unwrap() == std::fs::read(dir.join("again.idx")).unwrap(), "two builds differ");
    let full = check(dir, "new.jsonl", "base.jsonl", &["--no-index"]);
    let named = check(dir, "new.jsonl", "base.jsonl", &["--index", "elsewhere.idx"]);
    assert!(named.stderr.contains(FROM_INDEX));
    assert_same(&full, &named, "--index FILE");
    assert!(!index_path(&s).exists(), "a named index leaves the automatic one alone");
    // The default output is the automatic index.
    let out = skillc_in(dir, &["index", "base.jsonl", "--skills", skills.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(check(dir, "new.jsonl", "base.jsonl", &[]).stderr.contains(FROM_INDEX));

    // Another base under the named index: refused, with the reason.
    std::fs::write(dir.join("other.jsonl"), &s.base[..s.base.len() / 2]).unwrap();
    let refused = check(dir, "new.jsonl", "other.jsonl", &["--index", "elsewhere.idx"]);
    assert_eq!(refused.status, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("`other.jsonl` changed since `elsewhere.idx` was built"), "{}", refused.stderr);
    assert!(refused.report.is_empty());
}

/// Builds the automatic index, changes something, and checks that the next
/// check neither trusts the index nor differs from `--no-index`.
fn assert_rebuilt(s: &Setup, change: impl FnOnce(&Path), note: Option<&str>) {
    let dir = s.dir.path();
    check(dir, "new.jsonl", "base.jsonl", &[]);
    assert!(check(dir, "new.jsonl", "base.jsonl", &[]).stderr.contains(FROM_INDEX));
    change(dir);
    let after = check(dir, "new.jsonl", "base.jsonl", &[]);
    assert!(!after.stderr.contains(FROM_INDEX), "a stale or damaged index was used: {}", after.stderr);
    match note {
        Some(n) => assert!(after.stderr.contains(n), "expected `{n}` in: {}", after.stderr),
        None => assert!(!after.stderr.contains("note:"), "{}", after.stderr),
    }
    let full = check(dir, "new.jsonl", "base.jsonl", &["--no-index"]);
    assert_same(&full, &after, "after the change");
    // Rebuilt: the next check reads it again.
    let again = check(dir, "new.jsonl", "base.jsonl", &[]);
    assert!(again.stderr.contains(FROM_INDEX), "the index was not rebuilt: {}", again.stderr);
    assert_same(&full, &again, "from the rebuilt index");
}

#[test]
fn an_edited_base_rebuilds_the_index() {
    let s = setup();
    assert_rebuilt(
        &s,
        |dir| {
            let mut f = std::fs::OpenOptions::new().append(true).open(dir.join("base.jsonl")).unwrap();
            use std::io::Write;
            writeln!(f, "{}", company("nobody-at-all", "Holding", 20, 1_000_000, 1_000_000, None)).unwrap();
        },
        None,
    );
}

#[test]
fn an_edit_that_keeps_the_size_and_the_modification_time_is_seen() {
    let s = setup();
    let dir = s.dir.path().to_path_buf();
    let before = check(&dir, "new.jsonl", "base.jsonl", &["--no-index"]);
    assert_rebuilt(
        &s,
        |dir| {
            let path = dir.join("base.jsonl");
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            // `hold-top` becomes `hold-tox`: same length, and the candidate
            // that joins it now names an owner nobody has.
            let mut bytes = std::fs::read(&path).unwrap();
            let (from, to) = (b"\"id\":\"hold-top\"", b"\"id\":\"hold-tox\"");
            let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
            bytes[at..at + to.len()].copy_from_slice(to);
            std::fs::write(&path, bytes).unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(modified).unwrap();
            assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified);
        },
        None,
    );
    let after = check(&dir, "new.jsonl", "base.jsonl", &["--no-index"]);
    assert_ne!(before.report, after.report, "the edit changes the report");
}

#[test]
fn a_touched_but_equal_base_keeps_its_index() {
    let s = setup();
    let dir = s.dir.path();
    check(dir, "new.jsonl", "base.jsonl", &[]);
    // A copy over itself: new stamp, same bytes. The digest decides.
    let path = dir.join("base.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let read = check(dir, "new.jsonl", "base.jsonl", &[]);
    assert!(read.stderr.contains(FROM_INDEX), "{}", read.stderr);
    assert_same(&check(dir, "new.jsonl", "base.jsonl", &["--no-index"]), &read, "after a copy");
}

#[test]
fn edited_skills_rebuild_the_index() {
    let s = setup();
    let dir = s.dir.path();
    let skills = dir.join("skills");
    copy_dir(&root().join("skills"), &skills);
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "new.jsonl", "--base", "base.jsonl", "--format", "json", "--skills", "skills"];
        args.extend(extra);
        skillc_in(dir, &args)
    };
    run(&[]);
    assert!(stderr(&run(&[])).contains(FROM_INDEX));
    // A rule that now reads another field of other companies.
    let file = skills.join("ownership-consolidation/SKILL.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replace("c.standalone_revenue)", "c.consolidated_revenue)");
    assert_ne!(text, edited);
    std::fs::write(&file, edited).unwrap();
    let after = run(&[]);
    assert!(!stderr(&after).contains(FROM_INDEX), "an index built for other skills was used");
    assert_eq!(String::from_utf8_lossy(&after.stdout), String::from_utf8_lossy(&run(&["--no-index"]).stdout));
    assert!(stderr(&run(&[])).contains(FROM_INDEX), "rebuilt for the new skills");
    // `--select` keeps other columns: its own key too.
    let selected = run(&["--select", "unique-id"]);
    assert!(!stderr(&selected).contains(FROM_INDEX));
    assert_eq!(selected.stdout, run(&["--select", "unique-id", "--no-index"]).stdout);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Rewrites the automatic index with `edit` applied to its bytes.
fn damage(s: &Setup, edit: impl FnOnce(&mut Vec<u8>)) {
    let path = index_path(s);
    let mut bytes = std::fs::read(&path).unwrap();
    edit(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn a_truncated_index_is_rebuilt_and_refused_when_named() {
    let s = setup();
    let s = &s;
    assert_rebuilt(s, |_| damage(s, |b| b.truncate(b.len() * 2 / 3)), Some("is truncated: rebuilt from `base.jsonl`"));
    damage(s, |b| b.truncate(30));
    let refused = check(s.dir.path(), "new.jsonl", "base.jsonl", &["--index", "base.jsonl.skillc-index"]);
    assert_eq!(refused.status, 2);
    assert!(
        refused.stderr.contains("error: `base.jsonl.skillc-index` is truncated; rebuild it with `skillc index base.jsonl`"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_corrupted_index_is_rebuilt() {
    let s = setup();
    let s = &s;
    assert_rebuilt(
        s,
        |_| {
            damage(s, |b| {
                let at = b.len() - 1000;
                b[at] ^= 0x40;
            })
        },
        Some("is damaged (its checksum does not match): rebuilt"),
    );
    assert_rebuilt(s, |_| damage(s, |b| b[0] = b'X'), Some("is not a skillc index: rebuilt"));
    assert_rebuilt(s, |_| std::fs::write(index_path(s), b"").unwrap(), Some("is not a skillc index"));
}

#[test]
fn an_index_of_another_format_is_rebuilt_and_refused_when_named() {
    let s = setup();
    let s = &s;
    assert_rebuilt(
        s,
        |_| damage(s, |b| b[12..16].copy_from_slice(&99u32.to_le_bytes())),
        Some("is of index format 99; this skillc reads format"),
    );
    damage(s, |b| b[12..16].copy_from_slice(&99u32.to_le_bytes()));
    let refused = check(s.dir.path(), "new.jsonl", "base.jsonl", &["--index", "base.jsonl.skillc-index"]);
    assert_eq!(refused.status, 2);
    assert!(refused.stderr.contains("is of index format 99"), "{}", refused.stderr);
}

/// A shop of tests/fixtures/incremental/shops.
fn shop(id: &str, region: &str, revenue: u32, staff: Option<u32>, opened: u32, franchisors: &[&str]) -> String {
    let staff = staff.map_or("null".to_string(), |s| s.to_string());
    let links: Vec<String> = franchisors.iter().map(|f| format!(r#"{{"id":"{f}","fee":1000}}"#)).collect();
    format!(
        r#"{{"id":"{id}","region":"{region}","revenue":{revenue},"staff":{staff},"opened":{opened},"franchisor":[{}]}}"#,
        links.join(",")
    )
}

/// 120 shops in 24 chains of five (`s{5j}` franchises the next four): the
/// even chains all in the north, the odd ones mixed (chains-mixed at 50%
/// against 40%); every third shop without staff, the others 1-50 (67 of
/// 80 at most 40, against 60%: 32 more large staffs tip it); the chain
/// heads are the hubs, half of them at 950k (50% small, against 50%);
/// `s1`, not a hub, at 950k too.
fn shops_base() -> String {
    let mut lines = Vec::new();
    for i in 0..120u32 {
        let j = i / 5;
        let region = if j % 2 == 0 { "north" } else { ["north", "south", "east", "west", "north"][(i % 5) as usize] };
        let revenue = if i % 5 == 0 && j % 2 == 1 || i == 1 { 950_000 } else { 100_000 + i * 1000 };
        let staff = (i % 3 != 0).then_some(i % 50 + 1);
        let head = format!("s{}", 5 * j);
        let owners: Vec<&str> = if i % 5 == 0 { vec![] } else { vec![head.as_str()] };
        lines.push(shop(&format!("s{i}"), region, revenue, staff, 1990, &owners));
    }
    lines.join("\n") + "\n"
}

/// New all-north chains of two: `n` of them.
fn north_chains(n: usize) -> Vec<String> {
    (0..n)
        .flat_map(|k| {
            [
                shop(&format!("nh{k}"), "north", 300_000, None, 2000, &[]),
                shop(&format!("nt{k}"), "north", 1, None, 2000, &[&format!("nh{k}")]),
            ]
        })
        .collect()
}

fn staffed(n: usize) -> Vec<String> {
    (0..n).map(|k| shop(&format!("big{k}"), "south", 200_000, Some(100), 2000, &[])).collect()
}

#[test]
fn the_tallies_follow_the_candidates_across_every_bound() {
    // Each batch against the same indexed base: the report equals the full
    // check's, and when no dataset rule fails the check stayed incremental
    // (the tallies decided it). Debug builds also check every tally
    // against the element-by-element fold.
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let skills = root().join("tests/fixtures/incremental");
    std::fs::write(dir.join("base.jsonl"), shops_base()).unwrap();
    let out = skillc_in(dir, &["index", "base.jsonl", "--skills", skills.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cases: Vec<(&str, Vec<String>, &[&str])> = vec![
        ("nothing new", vec![shop("c0", "east", 1000, None, 2000, &[])], &[]),
        // A share over a filtered list, one each side of its bound.
        ("31 large staffs", staffed(31), &[]),
        ("32 large staffs", staffed(32), &["small-staff-share"]),
        // A franchisee makes its base franchisor a hub: large `s1` joins the
        // hubs (12 of 25 small), small `s2` keeps the share (13 of 25).
        ("a large base shop becomes a hub", vec![shop("c1", "east", 1000, None, 2000, &["s1"])], &["hubs-mostly-small"]),
        ("a small base shop becomes a hub", vec![shop("c2", "east", 1000, None, 2000, &["s2"])], &[]),
        ("both", vec![shop("c1", "east", 1000, None, 2000, &["s1"]), shop("c2", "east", 1000, None, 2000, &["s2"])], &[]),
        // A duplicate id takes a large hub out of the graph: it leaves the
        // hubs, and its chain breaks apart.
        ("a hub's id taken twice", vec![shop("s5", "north", 1000, None, 2000, &[]), shop("c1", "east", 1000, None, 2000, &["s1"])], &[]),
        // New groups, and base groups merged, around chains-mixed's 40%.
        ("5 new north chains", north_chains(5), &[]),
        ("7 new north chains", north_chains(7), &["chains-mixed"]),
        (
            "a north and a mixed chain merged, 6 new north chains",
            [vec![shop("m0", "north", 1, None, 2000, &["s0", "s5"])], north_chains(6)].concat(),
            &[],
        ),
        (
            "a north and a mixed chain merged, 8 new north chains",
            [vec![shop("m0", "north", 1, None, 2000, &["s0", "s5"])], north_chains(8)].concat(),
            &["chains-mixed"],
        ),
        ("two mixed chains merged", vec![shop("m1", "north", 1, None, 2000, &["s5", "s15"])], &[]),
        // any: false over the base, true with three huge candidates; all:
        // true over the base, false with one old shop.
        ("two huge shops", (0..2).map(|k| shop(&format!("huge{k}"), "east", 60_000_000, None, 2000, &[])).collect(), &[]),
        (
            "three huge shops",
            (0..3).map(|k| shop(&format!("huge{k}"), "east", 60_000_000, None, 2000, &[])).collect(),
            &["huge-shops-rare"],
        ),
        ("an old shop", vec![shop("old", "east", 1000, None, 1850, &[])], &["opened-modern"]),
        // A candidate the schema rejects is skipped by every walk.
        ("a broken shop", vec![shop("bad", "east", 1000, None, 2000, &[]).replace("\"opened\":2000", "\"opened\":\"x\"")], &[]),
    ];
    for (what, lines, failing) in cases {
        std::fs::write(dir.join("new.jsonl"), lines.join("\n") + "\n").unwrap();
        let full = check_under(&skills, dir, "new.jsonl", "base.jsonl", &["--no-index"]);
        let read = check_under(&skills, dir, "new.jsonl", "base.jsonl", &[]);
        assert!(read.stderr.contains(FROM_INDEX), "{what}: {}", read.stderr);
        assert_same(&full, &read, what);
        let report: Vec<Value> = String::from_utf8_lossy(&full.report).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let mut found: Vec<&str> = report.iter().filter(|l| l["type"] == "dataset").map(|l| l["rule"].as_str().unwrap()).collect();
        found.sort();
        assert_eq!(found, failing, "{what}: the dataset findings");
        if failing.is_empty() {
            assert!(read.stderr.contains(INCREMENTAL) && !read.stderr.contains(GAVE_WAY), "{what}: {}", read.stderr);
        }
    }
}

#[test]
fn shipped_skills_candidates_that_merge_base_groups_stay_incremental() {
    // A candidate owned by two base holdings merges their groups, another
    // takes a base id twice, a third starts a group of its own: every
    // dataset rule still holds, from the tallies.
    let s = setup();
    let dir = s.dir.path();
    let lines = [
        company("cand-merge", "Manufacturing", 200, 30_000_000, 30_000_000, Some(("hold-top", 0.3))).replace(
            r#""owners":[{"id":"hold-top","stake":0.3}]"#,
            r#""owners":[{"id":"hold-top","stake":0.3},{"id":"loop-b","stake":0.3}]"#,
        ),
        company("hold-top", "Holding", 10, 1_000_000, 1_000_000, None),
        company("cand-top", "Holding", 10, 1_000_000, 41_000_000, None),
        company("cand-sub", "Manufacturing", 300, 40_000_000, 40_000_000, Some(("cand-top", 0.9))),
    ];
    std::fs::write(dir.join("merge.jsonl"), lines.join("\n") + "\n").unwrap();
    let full = check(dir, "merge.jsonl", "base.jsonl", &["--no-index"]);
    assert!(!String::from_utf8_lossy(&full.report).contains("\"type\":\"dataset\""), "{}", String::from_utf8_lossy(&full.report));
    check(dir, "merge.jsonl", "base.jsonl", &[]);
    let read = check(dir, "merge.jsonl", "base.jsonl", &[]);
    assert!(read.stderr.contains(INCREMENTAL) && !read.stderr.contains(GAVE_WAY), "{}", read.stderr);
    assert_same(&full, &read, "groups merged");
}
