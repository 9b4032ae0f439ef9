//! Reference oracle for `shared/reference-rules.md`.
//!
//! A literal, deliberately plain evaluation of every reference rule over
//! `serde_json::Value`, used as the ground truth the real engine is compared
//! against. It depends on nothing but `serde_json` and std, and it is written
//! for clarity, not speed (it still handles 100k lines in well under a few
//! seconds: hash maps, an iterative Tarjan SCC and union-find, no recursion on
//! graph depth).
//!
//! Where the contract leaves a choice open, a comment starting `Reading:` says
//! which reading was taken.

#![allow(dead_code)]
// Rules are written as "fires when not (the condition under which the company
// passes)", exactly as the tables of reference-rules.md state them.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::manual_range_contains)]

use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// Outcome of one non-blank input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Flagged,
    Rejected,
}

#[derive(Debug, Clone)]
pub struct OracleLine {
    /// 1-based line number (blank lines are counted).
    pub line: usize,
    pub verdict: Verdict,
    /// Every rule id that fired for this line: reject rules (including `json`
    /// and `schema`) and company-scope flag rules.
    pub rules: BTreeSet<String>,
    /// The fields that failed `schema`, one entry per `schema` reason, in the
    /// order of the table of `company-dataset.md`.
    pub schema_fields: Vec<String>,
    /// The line's `id` when the line is a JSON object whose `id` is a string.
    pub id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OracleResult {
    /// One entry per non-blank line, in input order.
    pub lines: Vec<OracleLine>,
    /// Dataset-level rules that fired.
    pub dataset_rules: BTreeSet<String>,
}

// ---------------------------------------------------------------------------
// Constants of the reference domain
// ---------------------------------------------------------------------------

pub const INDUSTRIES: [&str; 10] =
    ["SaaS", "Manufacturing", "Retail", "Bank", "Insurance", "Holding", "Energy", "Healthcare", "Media", "Other"];

pub const BEHAVIOUR_CLASSES: [&str; 5] =
    ["happy-path", "fiscal-year-mismatch", "minority-stake", "deep-hierarchy", "holdco-without-operations"];

/// Every rule id of reference-rules.md, plus `json` and `schema`.
pub const ALL_RULE_IDS: [&str; 30] = [
    "json",
    "schema",
    // field rules
    "employee-count-range",
    "founded-year-not-future",
    "consolidated-revenue-positive",
    "standalone-revenue-non-negative",
    "gross-margin-range",
    "fiscal-year-end-valid",
    "country-code-format",
    "industry-known",
    "stake-range",
    "stakes-at-most-whole",
    // cross-field rules
    "saas-gross-margin",
    "public-listing-valid",
    "private-has-no-listing",
    "segments-sum-to-revenue",
    "standalone-within-consolidated",
    "arr-only-for-subscription",
    // cross-entity rules
    "owners-exist",
    "ownership-acyclic",
    "consolidation-covers-subsidiaries",
    "minority-stakes-not-consolidated",
    "equity-method-income-reported",
    "unique-id",
    // plausibility, company scope
    "saas-scale-needs-staff",
    "holdco-without-operations",
    "revenue-per-employee",
    // plausibility, dataset scope
    "saas-scale-staffing-share",
    "fiscal-year-mismatch-share",
    "behaviour-class-coverage",
];

/// Company-scope flag rules (everything else that can land on a line rejects).
pub const COMPANY_FLAG_RULES: [&str; 3] = ["saas-scale-needs-staff", "holdco-without-operations", "revenue-per-employee"];

/// Dataset-scope flag rules.
pub const DATASET_RULES: [&str; 3] = ["saas-scale-staffing-share", "fiscal-year-mismatch-share", "behaviour-class-coverage"];

// ---------------------------------------------------------------------------
// Typed view of one JSON object
// ---------------------------------------------------------------------------

/// A field after the `schema` check.
#[derive(Debug, Clone)]
enum F<T> {
    /// Optional field absent or null ("null counts as absent").
    Missing,
    /// Failed `schema` (required and absent/null, or of the wrong type):
    /// rules reading it do not apply.
    Bad,
    Ok(T),
}

impl<T> F<T> {
    fn ok(&self) -> Option<&T> {
        match self {
            F::Ok(v) => Some(v),
            _ => None,
        }
    }
    fn is_bad(&self) -> bool {
        matches!(self, F::Bad)
    }
    fn is_missing(&self) -> bool {
        matches!(self, F::Missing)
    }
}

struct Company {
    /// Index into the output `lines`.
    line_idx: usize,
    /// `id` when it is a string, whatever the schema verdict.
    raw_id: Option<String>,
    schema_fields: Vec<String>,

    id: F<String>,
    industry: F<String>,
    country: F<String>,
    founded_year: F<f64>,
    public: F<bool>,
    exchange: F<String>,
    ticker: F<String>,
    fiscal_year_end: F<String>,
    employee_count: F<f64>,
    standalone_revenue: F<f64>,
    consolidated_revenue: F<f64>,
    intercompany_eliminations: F<f64>,
    equity_method_income: F<f64>,
    gross_margin: F<f64>,
    arr: F<f64>,
    /// Revenues of the segments (names are only type-checked).
    segments: F<Vec<f64>>,
    owners: F<Vec<(String, f64)>>,
    behaviour_class: F<String>,
    plausibility_flags: F<Vec<String>>,
}

fn as_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn as_number(v: &Value) -> Option<f64> {
    // serde_json (without arbitrary_precision) only yields finite f64 values.
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// "An integer is any JSON number whose value is whole (100, 100.0, 1e3; not 100.5)."
fn as_integer(v: &Value) -> Option<f64> {
    let x = as_number(v)?;
    if x.fract() == 0.0 {
        Some(x)
    } else {
        None
    }
}

fn as_bool(v: &Value) -> Option<bool> {
    v.as_bool()
}

/// `segments`: array of objects with a string `name` and a numeric `revenue`.
// Reading: extra keys inside a segment or owner item are allowed; one bad item fails the whole field (one reason).
fn as_segments(v: &Value) -> Option<Vec<f64>> {
    let arr = v.as_array()?;
    let mut out = Vec::with_capacity(arr.len());
    for item in arr {
        let o = item.as_object()?;
        o.get("name")?.as_str()?;
        out.push(as_number(o.get("revenue")?)?);
    }
    Some(out)
}

/// `owners`: array of objects with a string `id` and a numeric `stake`.
fn as_owners(v: &Value) -> Option<Vec<(String, f64)>> {
    let arr = v.as_array()?;
    let mut out = Vec::with_capacity(arr.len());
    for item in arr {
        let o = item.as_object()?;
        let id = o.get("id")?.as_str()?.to_string();
        let stake = as_number(o.get("stake")?)?;
        out.push((id, stake));
    }
    Some(out)
}

/// `plausibility_flags`: array of strings.
fn as_string_array(v: &Value) -> Option<Vec<String>> {
    let arr = v.as_array()?;
    let mut out = Vec::with_capacity(arr.len());
    for item in arr {
        out.push(item.as_str()?.to_string());
    }
    Some(out)
}

fn required<T>(obj: &Map<String, Value>, key: &str, conv: fn(&Value) -> Option<T>, failed: &mut Vec<String>) -> F<T> {
    match obj.get(key) {
        None | Some(Value::Null) => {
            failed.push(key.to_string());
            F::Bad
        }
        Some(v) => match conv(v) {
            Some(t) => F::Ok(t),
            None => {
                failed.push(key.to_string());
                F::Bad
            }
        },
    }
}

fn optional<T>(obj: &Map<String, Value>, key: &str, conv: fn(&Value) -> Option<T>, failed: &mut Vec<String>) -> F<T> {
    match obj.get(key) {
        None | Some(Value::Null) => F::Missing,
        Some(v) => match conv(v) {
            Some(t) => F::Ok(t),
            None => {
                failed.push(key.to_string());
                F::Bad
            }
        },
    }
}

fn typed_company(obj: &Map<String, Value>, line_idx: usize) -> Company {
    let mut failed = Vec::new();
    let f = &mut failed;
    // Checked in the order of the field table of company-dataset.md.
    let id = required(obj, "id", as_string, f);
    let _name = required(obj, "name", as_string, f);
    let industry = required(obj, "industry", as_string, f);
    let country = required(obj, "country", as_string, f);
    let founded_year = required(obj, "founded_year", as_integer, f);
    let public = required(obj, "public", as_bool, f);
    let exchange = optional(obj, "exchange", as_string, f);
    let ticker = optional(obj, "ticker", as_string, f);
    let fiscal_year_end = required(obj, "fiscal_year_end", as_string, f);
    let _currency = required(obj, "currency", as_string, f);
    let employee_count = required(obj, "employee_count", as_integer, f);
    let standalone_revenue = required(obj, "standalone_revenue", as_number, f);
    let consolidated_revenue = required(obj, "consolidated_revenue", as_number, f);
    let intercompany_eliminations = optional(obj, "intercompany_eliminations", as_number, f);
    let equity_method_income = optional(obj, "equity_method_income", as_number, f);
    let gross_margin = required(obj, "gross_margin", as_number, f);
    let arr = optional(obj, "arr", as_number, f);
    let segments = optional(obj, "segments", as_segments, f);
    let owners = optional(obj, "owners", as_owners, f);
    let behaviour_class = optional(obj, "behaviour_class", as_string, f);
    let plausibility_flags = optional(obj, "plausibility_flags", as_string_array, f);
    Company {
        line_idx,
        raw_id: obj.get("id").and_then(|v| v.as_str()).map(str::to_string),
        schema_fields: failed,
        id,
        industry,
        country,
        founded_year,
        public,
        exchange,
        ticker,
        fiscal_year_end,
        employee_count,
        standalone_revenue,
        consolidated_revenue,
        intercompany_eliminations,
        equity_method_income,
        gross_margin,
        arr,
        segments,
        owners,
        behaviour_class,
        plausibility_flags,
    }
}

// ---------------------------------------------------------------------------
// Small hand-written checks
// ---------------------------------------------------------------------------

fn all_bytes(s: &[u8], min: usize, max: usize, class: fn(u8) -> bool) -> bool {
    s.len() >= min && s.len() <= max && s.iter().all(|&b| class(b))
}

fn upper(b: u8) -> bool {
    b.is_ascii_uppercase()
}

fn digit(b: u8) -> bool {
    b.is_ascii_digit()
}

fn upper_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Whole-string match of the ticker pattern of `exchange`; `None` when the
/// exchange is not one of the format.
pub fn ticker_matches(exchange: &str, ticker: &str) -> Option<bool> {
    let t = ticker.as_bytes();
    let ok = match exchange {
        // [A-Z]{1,4}(\.[A-Z])?
        "NYSE" => {
            let n = t.len();
            let plain = all_bytes(t, 1, 4, upper);
            let with_class = n >= 3 && t[n - 2] == b'.' && upper(t[n - 1]) && all_bytes(&t[..n - 2], 1, 4, upper);
            plain || with_class
        }
        // [A-Z]{1,5}
        "NASDAQ" => all_bytes(t, 1, 5, upper),
        // [A-Z]{2,4}
        "LSE" => all_bytes(t, 2, 4, upper),
        // [A-Z0-9]{2,4}
        "XETRA" => all_bytes(t, 2, 4, upper_or_digit),
        // [A-Z]{2,5}
        "EURONEXT" => all_bytes(t, 2, 5, upper),
        // [0-9]{4}
        "TSE" => all_bytes(t, 4, 4, digit),
        // [0-9]{4,5}
        "HKEX" => all_bytes(t, 4, 5, digit),
        _ => return None,
    };
    Some(ok)
}

/// `MM-DD` naming a real calendar day, `02-29` allowed.
pub fn valid_month_day(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b'-' || !digit(b[0]) || !digit(b[1]) || !digit(b[3]) || !digit(b[4]) {
        return false;
    }
    let month = (b[0] - b'0') as u32 * 10 + (b[1] - b'0') as u32;
    let day = (b[3] - b'0') as u32 * 10 + (b[4] - b'0') as u32;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 => 29,
        _ => return false,
    };
    day >= 1 && day <= days_in_month
}

fn country_code_ok(s: &str) -> bool {
    all_bytes(s.as_bytes(), 2, 2, upper)
}

// ---------------------------------------------------------------------------
// Graph helpers (no recursion on depth)
// ---------------------------------------------------------------------------

/// Iterative Tarjan. `adj_start` has n+1 entries (CSR). Returns the component
/// index of every node.
fn tarjan_scc(n: usize, adj_start: &[usize], adj: &[usize]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut comp = vec![UNSEEN; n];
    let mut next_index = 0usize;
    let mut next_comp = 0usize;
    // Explicit call stack: (node, position of the next edge to look at).
    let mut call: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        call.push((root, adj_start[root]));
        while let Some(top) = call.len().checked_sub(1) {
            let (v, pos) = call[top];
            if pos < adj_start[v + 1] {
                call[top].1 = pos + 1;
                let w = adj[pos];
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, adj_start[w]));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(u, _)) = call.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    loop {
                        let w = stack.pop().expect("tarjan stack");
                        on_stack[w] = false;
                        comp[w] = next_comp;
                        if w == v {
                            break;
                        }
                    }
                    next_comp += 1;
                }
            }
        }
    }
    comp
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind { parent: (0..n).collect() }
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra] = rb;
        }
    }
}

// ---------------------------------------------------------------------------
// Lines
// ---------------------------------------------------------------------------

/// Splits the input into (1-based line number, line bytes without `\r\n`/`\n`),
/// skipping blank lines.
fn non_blank_lines(input: &[u8]) -> Vec<(usize, &[u8])> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(input);
    let mut out = Vec::new();
    for (i, raw) in input.split(|&b| b == b'\n').enumerate() {
        // Reading: one `\r` right before the line end is dropped, also on a last line without `\n`
        // (any other `\r` is JSON whitespace anyway, so this only matters for blankness).
        let line = raw.strip_suffix(b"\r".as_slice()).unwrap_or(raw);
        let blank = line.iter().all(|&b| b == b' ' || b == b'\t' || b == b'\r');
        if !blank {
            out.push((i + 1, line));
        }
    }
    out
}

/// `None` when the line is rejected under `json`.
// Reading: serde_json's own limits count as "not JSON": nesting deeper than 128 and lone UTF-16 surrogate escapes are `json` failures.
fn parse_object(line: &[u8]) -> Option<Map<String, Value>> {
    let text = std::str::from_utf8(line).ok()?;
    // from_str rejects trailing non-whitespace text, NaN/Infinity and numbers
    // beyond the range of f64; duplicate keys keep the last value.
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------

pub fn oracle(input: &[u8], current_year: i32) -> OracleResult {
    let mut lines: Vec<OracleLine> = Vec::new();
    let mut companies: Vec<Company> = Vec::new();

    // 1. Lines, `json`, `schema`.
    for (line_no, bytes) in non_blank_lines(input) {
        let line_idx = lines.len();
        let mut ol = OracleLine { line: line_no, verdict: Verdict::Accepted, rules: BTreeSet::new(), schema_fields: Vec::new(), id: None };
        match parse_object(bytes) {
            None => {
                ol.rules.insert("json".to_string());
            }
            Some(obj) => {
                let c = typed_company(&obj, line_idx);
                if !c.schema_fields.is_empty() {
                    ol.rules.insert("schema".to_string());
                    ol.schema_fields = c.schema_fields.clone();
                }
                ol.id = c.raw_id.clone();
                companies.push(c);
            }
        }
        lines.push(ol);
    }

    // 2. Ids: every JSON object whose `id` is a string.
    let mut id_count: HashMap<&str, usize> = HashMap::new();
    for c in &companies {
        if let Some(id) = &c.raw_id {
            *id_count.entry(id.as_str()).or_insert(0) += 1;
        }
    }

    // 3. The ownership graph: companies passing `schema` and `unique-id`.
    let mut node_company: Vec<usize> = Vec::new(); // node -> index in `companies`
    let mut node_of_id: HashMap<&str, usize> = HashMap::new();
    let mut node_of_company: Vec<Option<usize>> = vec![None; companies.len()];
    for (ci, c) in companies.iter().enumerate() {
        if !c.schema_fields.is_empty() {
            continue;
        }
        let id = c.raw_id.as_deref().expect("schema passed, so id is a string");
        if id_count[id] == 1 {
            let node = node_company.len();
            node_company.push(ci);
            node_of_id.insert(id, node);
            node_of_company[ci] = Some(node);
        }
    }
    let n = node_company.len();

    // Edges owner -> child, parallel entries for the same owner merged.
    struct Edge {
        owner: usize,
        child: usize,
        controlled: bool,
        investee: bool,
    }
    let mut edges: Vec<Edge> = Vec::new();
    for (child, &ci) in node_company.iter().enumerate() {
        let owners = match companies[ci].owners.ok() {
            Some(o) => o,
            None => continue,
        };
        let mut merged: Vec<(usize, bool, bool)> = Vec::new(); // (owner, controlled, investee)
        let mut slot: HashMap<usize, usize> = HashMap::new();
        for (oid, stake) in owners {
            if let Some(&owner) = node_of_id.get(oid.as_str()) {
                let controlled = *stake > 0.5;
                let investee = *stake >= 0.2 && *stake <= 0.5;
                match slot.get(&owner) {
                    Some(&k) => {
                        merged[k].1 |= controlled;
                        merged[k].2 |= investee;
                    }
                    None => {
                        slot.insert(owner, merged.len());
                        merged.push((owner, controlled, investee));
                    }
                }
            }
        }
        for (owner, controlled, investee) in merged {
            edges.push(Edge { owner, child, controlled, investee });
        }
    }

    // CSR adjacency owner -> children for the SCCs.
    let mut adj_start = vec![0usize; n + 1];
    for e in &edges {
        adj_start[e.owner + 1] += 1;
    }
    for i in 0..n {
        adj_start[i + 1] += adj_start[i];
    }
    let mut fill = adj_start.clone();
    let mut adj = vec![0usize; edges.len()];
    for e in &edges {
        adj[fill[e.owner]] = e.child;
        fill[e.owner] += 1;
    }
    let comp = tarjan_scc(n, &adj_start, &adj);
    let mut comp_size: HashMap<usize, usize> = HashMap::new();
    for &k in &comp {
        *comp_size.entry(k).or_insert(0) += 1;
    }

    // Groups (weakly connected components).
    let mut uf = UnionFind::new(n);
    for e in &edges {
        uf.union(e.owner, e.child);
    }

    // Reading: sums over controlled subsidiaries are plain f64 additions in input order of the children.
    // Reading: a self-edge is an ordinary edge, so a company holding > 0.5 of itself is its own controlled subsidiary.
    let mut self_loop = vec![false; n];
    let mut has_controlled = vec![false; n];
    let mut has_investee = vec![false; n];
    let mut sum_ctrl_standalone = vec![0.0f64; n];
    let mut sum_ctrl_consolidated = vec![0.0f64; n];
    let mut group_mismatch: HashMap<usize, bool> = HashMap::new();
    for e in &edges {
        let owner_c = &companies[node_company[e.owner]];
        let child_c = &companies[node_company[e.child]];
        if e.owner == e.child {
            self_loop[e.owner] = true;
        }
        if e.investee {
            has_investee[e.owner] = true;
        }
        if e.controlled {
            has_controlled[e.owner] = true;
            sum_ctrl_standalone[e.owner] += *child_c.standalone_revenue.ok().unwrap();
            sum_ctrl_consolidated[e.owner] += *child_c.consolidated_revenue.ok().unwrap();
            // Reading: year ends are compared as exact strings, malformed ones included.
            if owner_c.fiscal_year_end.ok() != child_c.fiscal_year_end.ok() {
                let root = uf.find(e.owner);
                group_mismatch.insert(root, true);
            }
        }
    }

    // 4. Company rules.
    for (ci, c) in companies.iter().enumerate() {
        let mut fired: Vec<&'static str> = Vec::new();
        company_rules(c, current_year, &mut fired);

        // owners-exist: any JSON object of the input has that id.
        if let Some(owners) = c.owners.ok() {
            if owners.iter().any(|(oid, _)| !id_count.contains_key(oid.as_str())) {
                fired.push("owners-exist");
            }
        }
        // unique-id
        if let Some(id) = &c.raw_id {
            if id_count[id.as_str()] > 1 {
                fired.push("unique-id");
            }
        }
        // Cross-entity rules over the graph.
        if let Some(node) = node_of_company[ci] {
            let cr = *c.consolidated_revenue.ok().unwrap();
            let sr = *c.standalone_revenue.ok().unwrap();
            let ie = c.intercompany_eliminations.ok().copied().unwrap_or(0.0);
            if self_loop[node] || comp_size[&comp[node]] > 1 {
                fired.push("ownership-acyclic");
            }
            if !(cr >= sum_ctrl_standalone[node] - ie) {
                fired.push("consolidation-covers-subsidiaries");
            }
            if !(cr <= 1.01 * (sr + sum_ctrl_consolidated[node])) {
                fired.push("minority-stakes-not-consolidated");
            }
            if has_investee[node] && c.equity_method_income.is_missing() {
                fired.push("equity-method-income-reported");
            }
            // holdco-without-operations (flag): in the graph only, and only
            // when plausibility_flags is present (an empty array fires it).
            if c.industry.ok().map(String::as_str) == Some("Holding") && !has_controlled[node] {
                if let Some(flags) = c.plausibility_flags.ok() {
                    if !flags.iter().any(|f| f == "holdco-without-operations") {
                        fired.push("holdco-without-operations");
                    }
                }
            }
        }

        let ol = &mut lines[c.line_idx];
        for r in fired {
            ol.rules.insert(r.to_string());
        }
    }

    // 5. Verdicts.
    for ol in &mut lines {
        let reject = ol.rules.iter().any(|r| !COMPANY_FLAG_RULES.contains(&r.as_str()));
        ol.verdict = if reject {
            Verdict::Rejected
        } else if !ol.rules.is_empty() {
            Verdict::Flagged
        } else {
            Verdict::Accepted
        };
    }

    // 6. Dataset-level rules (every JSON object whose fields are usable,
    // whatever its verdict; duplicates count twice).
    let mut dataset_rules = BTreeSet::new();

    // saas-scale-staffing-share
    // Reading: the population needs industry, arr and employee_count all usable; "fewer than 95%" compared exactly (20*ok < 19*n).
    let mut big_saas = 0u64;
    let mut big_saas_staffed = 0u64;
    for c in &companies {
        if let (F::Ok(ind), F::Ok(arr), F::Ok(ec)) = (&c.industry, &c.arr, &c.employee_count) {
            if ind == "SaaS" && *arr > 100_000_000.0 {
                big_saas += 1;
                if *ec > 50.0 {
                    big_saas_staffed += 1;
                }
            }
        }
    }
    if big_saas >= 20 && 20 * big_saas_staffed < 19 * big_saas {
        dataset_rules.insert("saas-scale-staffing-share".to_string());
    }

    // fiscal-year-mismatch-share
    let mut group_size: HashMap<usize, usize> = HashMap::new();
    for node in 0..n {
        *group_size.entry(uf.find(node)).or_insert(0) += 1;
    }
    let multi_groups = group_size.values().filter(|&&s| s >= 2).count();
    let mismatched = group_size.iter().filter(|(root, &s)| s >= 2 && group_mismatch.get(root).copied().unwrap_or(false)).count();
    // share in [5%, 25%] inclusive <=> 20*m >= n and 4*m <= n.
    if multi_groups >= 20 && (20 * mismatched < multi_groups || 4 * mismatched > multi_groups) {
        dataset_rules.insert("fiscal-year-mismatch-share".to_string());
    }

    // behaviour-class-coverage
    let mut class_count: HashMap<&str, usize> = HashMap::new();
    for c in &companies {
        if let Some(bc) = c.behaviour_class.ok() {
            *class_count.entry(bc.as_str()).or_insert(0) += 1;
        }
    }
    if BEHAVIOUR_CLASSES.iter().any(|k| class_count.get(k).copied().unwrap_or(0) < 3) {
        dataset_rules.insert("behaviour-class-coverage".to_string());
    }

    OracleResult { lines, dataset_rules }
}

/// Field, cross-field and company-scope plausibility rules that read one
/// company alone. A rule reading a field that failed `schema` does not apply.
fn company_rules(c: &Company, current_year: i32, fired: &mut Vec<&'static str>) {
    // --- Field rules ---
    if let Some(&ec) = c.employee_count.ok() {
        if !(1.0 <= ec && ec <= 10_000_000.0) {
            fired.push("employee-count-range");
        }
    }
    if let Some(&fy) = c.founded_year.ok() {
        if !(1600.0 <= fy && fy <= current_year as f64) {
            fired.push("founded-year-not-future");
        }
    }
    if let Some(&cr) = c.consolidated_revenue.ok() {
        if !(cr > 0.0) {
            fired.push("consolidated-revenue-positive");
        }
    }
    if let Some(&sr) = c.standalone_revenue.ok() {
        if !(sr >= 0.0) {
            fired.push("standalone-revenue-non-negative");
        }
    }
    if let Some(&gm) = c.gross_margin.ok() {
        if !(-1.0 <= gm && gm <= 1.0) {
            fired.push("gross-margin-range");
        }
    }
    if let Some(fye) = c.fiscal_year_end.ok() {
        if !valid_month_day(fye) {
            fired.push("fiscal-year-end-valid");
        }
    }
    if let Some(country) = c.country.ok() {
        if !country_code_ok(country) {
            fired.push("country-code-format");
        }
    }
    if let Some(ind) = c.industry.ok() {
        if !INDUSTRIES.contains(&ind.as_str()) {
            fired.push("industry-known");
        }
    }
    if let Some(owners) = c.owners.ok() {
        // Reading: an empty owners array passes both stake rules (nothing to check, sum 0).
        if owners.iter().any(|(_, s)| !(*s > 0.0 && *s <= 1.0)) {
            fired.push("stake-range");
        }
        let total: f64 = owners.iter().map(|(_, s)| *s).sum();
        if !(total <= 1.0 + 1e-9) {
            fired.push("stakes-at-most-whole");
        }
    }

    // --- Cross-field rules ---
    if let (F::Ok(ind), F::Ok(gm)) = (&c.industry, &c.gross_margin) {
        if ind == "SaaS" && !(*gm > 0.6) {
            fired.push("saas-gross-margin");
        }
    }
    // public-listing-valid / private-has-no-listing read public, exchange, ticker.
    if let F::Ok(public) = c.public {
        if !c.exchange.is_bad() && !c.ticker.is_bad() {
            if public {
                let ok = match (c.exchange.ok(), c.ticker.ok()) {
                    (Some(ex), Some(t)) => ticker_matches(ex, t) == Some(true),
                    _ => false,
                };
                if !ok {
                    fired.push("public-listing-valid");
                }
            } else if !(c.exchange.is_missing() && c.ticker.is_missing()) {
                fired.push("private-has-no-listing");
            }
        }
    }
    if let (F::Ok(segs), F::Ok(cr)) = (&c.segments, &c.consolidated_revenue) {
        if !segs.is_empty() {
            let total: f64 = segs.iter().sum();
            // Literal: with consolidated_revenue <= 0, "within 1% of it" never holds.
            let ok = *cr > 0.0 && (total - *cr).abs() <= 0.01 * *cr;
            if !ok {
                fired.push("segments-sum-to-revenue");
            }
        }
    }
    if let (F::Ok(sr), F::Ok(cr)) = (&c.standalone_revenue, &c.consolidated_revenue) {
        // Reading: a schema-failing intercompany_eliminations (wrong type) makes this rule not apply.
        if !c.intercompany_eliminations.is_bad() {
            let ie = c.intercompany_eliminations.ok().copied().unwrap_or(0.0);
            if !(*sr <= *cr + ie) {
                fired.push("standalone-within-consolidated");
            }
        }
    }
    if let (F::Ok(_arr), F::Ok(ind)) = (&c.arr, &c.industry) {
        if ind != "SaaS" {
            fired.push("arr-only-for-subscription");
        }
    }

    // --- Company-scope plausibility (flag) rules ---
    if let (F::Ok(ind), F::Ok(arr), F::Ok(ec)) = (&c.industry, &c.arr, &c.employee_count) {
        if ind == "SaaS" && *arr > 100_000_000.0 && *ec <= 50.0 {
            fired.push("saas-scale-needs-staff");
        }
    }
    if let (F::Ok(cr), F::Ok(ec)) = (&c.consolidated_revenue, &c.employee_count) {
        if *ec != 0.0 {
            // Reading: the ratio is computed as a literal f64 division (a negative head count gives a negative ratio, which fires).
            let per_employee = *cr / *ec;
            if per_employee < 5_000.0 || per_employee > 5_000_000.0 {
                fired.push("revenue-per-employee");
            }
        }
    }
}
