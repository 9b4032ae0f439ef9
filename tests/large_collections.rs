//! Aggregates, filters and projections over a collection long enough to be
//! walked in parallel blocks (past 65,536 elements): each must give what
//! one pass over every element in order gives, whatever the thread count.
//! The expected values are computed here from the generated items.

use serde_json::Value;
use skillc::check::{self, Compiled};
use std::collections::BTreeMap;

const ITEMS: usize = 150_001; // not a multiple of any block size
const OUTLIER: usize = 70_000; // the one element that breaks `all`

const SKILL: &str = r#"---
name: items
description: Items, to test aggregates over a large collection.
applies_to: item
---

# Items

```entity item
key id
collection items

id: string
n: number?
k: string
```

```rule total
sum(i in items: i.n) == -1
```

```rule count-a
count(i in items where i.k == "a") == -1
```

```rule stats
let big = [i in items where i.n >= 400]
count(big) == -1 or share(i in items: i.k == "a") == -1 or min(i in items: i.n) == -1
    or max(i in items: i.n) == -1 or mean(i in items: i.n) == -1
```

```rule projected
sum(items.n) == -1 or count(items.n) == -1
```

```rule none-large
not any(i in items: i.n > 800)
```

```rule all-outside-band
all(i in items: i.n < 600 or i.n > 800)
```

```rule not-all-known
not all(i in items: i.n >= 0)
```
"#;

/// Item `i`: `n` cycles through 0, 0.5, …, 499.5 (sums stay exact in
/// binary, so any order of addition gives the same total), absent on every
/// 10,007th item; item OUTLIER has 700 and the last item 1000.
fn n_of(i: usize) -> Option<f64> {
    if i == ITEMS - 1 {
        Some(1000.0)
    } else if i == OUTLIER {
        Some(700.0)
    } else if i % 10_007 == 5 {
        None
    } else {
        Some((i % 1000) as f64 * 0.5)
    }
}

fn k_of(i: usize) -> &'static str {
    if i.is_multiple_of(3) {
        "a"
    } else {
        "b"
    }
}

fn dataset() -> Vec<u8> {
    let mut out = String::new();
    for i in 0..ITEMS {
        match n_of(i) {
            Some(n) => out.push_str(&format!("{{\"id\":\"i{i}\",\"n\":{n},\"k\":\"{}\"}}\n", k_of(i))),
            None => out.push_str(&format!("{{\"id\":\"i{i}\",\"k\":\"{}\"}}\n", k_of(i))),
        }
    }
    out.into_bytes()
}

fn compiled() -> Compiled {
    let (program, diags) = skillc::compile_sources(&[("items/SKILL.md".into(), SKILL.into())]);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    Compiled::new(program).expect("compiles")
}

fn run(c: &Compiled, input: &[u8], threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool");
    pool.install(|| {
        let report = check::check(c, None, check::load(c, input, None, true).expect("in memory"));
        let mut out = Vec::new();
        skillc::report::write_json(c, &report, &mut out).expect("in memory");
        out
    })
}

/// Dataset findings: rule id → (values, hint).
fn findings(out: &[u8]) -> BTreeMap<String, (serde_json::Map<String, Value>, String)> {
    let text = std::str::from_utf8(out).expect("UTF-8");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|v| v["type"] == "dataset")
        .map(|v| {
            let values = v["values"].as_object().cloned().unwrap_or_default();
            (v["rule"].as_str().unwrap().to_string(), (values, v["hint"].as_str().unwrap_or("").to_string()))
        })
        .collect()
}

#[test]
fn aggregates_over_a_large_collection_equal_one_pass_in_order() {
    let c = compiled();
    let input = dataset();
    let out = run(&c, &input, 2);
    let found = findings(&out);

    let present: Vec<f64> = (0..ITEMS).filter_map(n_of).collect();
    let sum: f64 = present.iter().sum();
    let count_a = (0..ITEMS).filter(|&i| k_of(i) == "a").count();
    let big = present.iter().filter(|&&n| n >= 400.0).count();
    let number = |rule: &str, key: &str| -> f64 {
        let values = &found.get(rule).unwrap_or_else(|| panic!("`{rule}` fails: {found:?}")).0;
        values.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("`{rule}` reports `{key}`: {values:?}"))
    };

    assert_eq!(number("total", "sum(i in items: i.n)"), sum);
    assert_eq!(number("count-a", "count(i in items where i.k == \"a\")"), count_a as f64);
    assert_eq!(number("stats", "count(big)"), big as f64);
    assert_eq!(number("stats", "share(i in items: i.k == \"a\")"), count_a as f64 / ITEMS as f64);
    assert_eq!(number("stats", "min(i in items: i.n)"), 0.0);
    assert_eq!(number("stats", "max(i in items: i.n)"), 1000.0);
    assert_eq!(number("stats", "mean(i in items: i.n)"), sum / present.len() as f64);
    assert_eq!(number("projected", "sum(items.n)"), sum);
    assert_eq!(number("projected", "count(items.n)"), present.len() as f64);

    // `not any` fails on the one element past 800, the very last; `all` on
    // the one element inside the band, in a middle block.
    let last = format!("items[\"i{}\"].n", ITEMS - 1);
    assert_eq!(found["none-large"].0.keys().collect::<Vec<_>>(), [&last]);
    let outlier = format!("items[\"i{OUTLIER}\"].n");
    assert_eq!(found["all-outside-band"].0.keys().collect::<Vec<_>>(), [&outlier]);
    // Unknown elements (absent `n`) and no false one: `all` is unknown, so
    // `not all` does not apply. A merge that dropped the unknowns would
    // make it fail.
    assert!(!found.contains_key("not-all-known"), "{:?}", found.get("not-all-known"));
    assert_eq!(found.len(), 6, "{:?}", found.keys());
}

#[test]
fn large_collections_give_the_same_report_on_one_two_and_three_threads() {
    let c = compiled();
    let input = dataset();
    let one = run(&c, &input, 1);
    assert!(findings(&one).len() == 6);
    assert_eq!(one, run(&c, &input, 2));
    assert_eq!(one, run(&c, &input, 3));
}

#[test]
fn a_failing_not_any_names_the_element_that_holds() {
    // Below the parallel threshold: the explanation itself, not the merge.
    let c = compiled();
    let input = b"{\"id\":\"a\",\"n\":1,\"k\":\"a\"}\n{\"id\":\"b\",\"n\":900,\"k\":\"b\"}\n{\"id\":\"c\",\"n\":2,\"k\":\"b\"}\n";
    let found = findings(&run(&c, input, 1));
    let (values, hint) = &found["none-large"];
    assert_eq!(values.keys().collect::<Vec<_>>(), ["items[\"b\"].n"]);
    assert_eq!(hint, "`items[\"b\"].n` must be at most 800");
    let (values, hint) = &found["not-all-known"];
    assert!(values.is_empty());
    assert_eq!(hint, "every element of `items` satisfies `i.n >= 0`");
}
