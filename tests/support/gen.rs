//! Deterministic generator of synthetic company datasets in the reference
//! format of `shared/company-dataset.md`.
//!
//! No external crates: a hand-rolled xoshiro256** PRNG seeded by splitmix64,
//! output streamed through a small buffer, so a million companies never sit
//! in memory. Same `GenConfig` → same bytes.
//!
//! Valid companies are generated in realistic groups (holding groups, chains
//! 2–6 levels deep, minority stakes, holdcos, standalone companies) with
//! consistent consolidated/standalone revenues, so they pass every reject rule
//! of `shared/reference-rules.md`. A fraction `violations` of the companies
//! breaks some rule, spread over every reference rule (see `Kind`).
//!
//! Dataset-level rules can only be broken by the dataset as a whole, so they
//! scale with `violations` too (all three fire at 0.2, none at 0.0):
//! - the share of multi-entity groups with a fiscal-year mismatch targets
//!   `0.15 + 1.5 * violations` (15% when clean);
//! - each `deep-hierarchy` label is misspelt `deep_hierarchy` with probability
//!   `min(1, 5 * violations)`;
//! - understaffed large SaaS companies come from the `saas-scale-needs-staff`
//!   violations (weighted 1.5x the other kinds).
//!
//! The fraction is counted on the companies a violation is aimed at; knock-on
//! findings the rules imply (a schema-broken subsidiary leaving the graph, so
//! its parent over-consolidates; a broken parent id leaving its subsidiaries
//! with dangling owners) come on top. The valid data also carries the format's
//! texture: CRLF endings and blank lines now and then, unknown extra fields,
//! `null` versus absent optionals, `640.0` / `182e6` number spellings, JSON
//! escapes and non-ASCII names, parallel owner entries, children listed
//! before their parents.

#![allow(dead_code)]
#![allow(clippy::needless_range_loop)]

use std::io::{self, Write};

pub struct GenConfig {
    /// Number of non-blank lines (companies, broken ones included).
    pub companies: usize,
    pub seed: u64,
    /// Fraction of companies that break some rule, e.g. 0.05.
    pub violations: f64,
}

pub fn generate(cfg: &GenConfig, out: &mut impl Write) -> io::Result<()> {
    let mut g = Gen::new(cfg);
    while g.emitted < cfg.companies {
        let remaining = cfg.companies - g.emitted;
        if (g.violating as f64) < g.violations * ((g.emitted + 1) as f64) {
            g.violation_unit(remaining);
        } else {
            let group = g.build_group(remaining);
            g.emit_group(&group, None);
        }
        if g.buf.len() >= 1 << 16 {
            out.write_all(&g.buf)?;
            g.buf.clear();
        }
    }
    out.write_all(&g.buf)?;
    out.flush()
}

// ---------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------

struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn new(seed: u64) -> Self {
        let mut st = seed;
        let s = [splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st), splitmix64(&mut st)];
        Rng { s }
    }

    /// xoshiro256**
    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in [lo, hi].
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as u64) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// Log-uniform integer in [lo, hi].
    fn log_uniform(&mut self, lo: i64, hi: i64) -> i64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        let v = (a + (b - a) * self.f64()).exp().round() as i64;
        v.clamp(lo, hi)
    }
}

// ---------------------------------------------------------------------------
// Domain tables
// ---------------------------------------------------------------------------

const INDUSTRIES: [&str; 10] =
    ["SaaS", "Manufacturing", "Retail", "Bank", "Insurance", "Holding", "Energy", "Healthcare", "Media", "Other"];
/// Weights for operating (non-holding) companies, in the order of INDUSTRIES.
const OPERATING_WEIGHTS: [u32; 10] = [18, 14, 12, 6, 5, 0, 7, 12, 8, 10];
/// Revenue per employee (USD) by industry.
const RATIO: [(i64, i64); 10] = [
    (120_000, 400_000),
    (150_000, 450_000),
    (60_000, 300_000),
    (300_000, 900_000),
    (300_000, 900_000),
    (150_000, 900_000),
    (300_000, 900_000),
    (80_000, 300_000),
    (120_000, 500_000),
    (60_000, 400_000),
];
/// Gross margin in thousandths by industry.
const MARGIN: [(i64, i64); 10] =
    [(650, 880), (150, 450), (200, 450), (400, 800), (150, 400), (300, 900), (100, 400), (300, 650), (300, 600), (150, 600)];
const SECOND_WORDS: [&[&str]; 10] = [
    &["cloud", "software", "labs", "analytics", "systems", "data"],
    &["industries", "manufacturing", "works", "components", "machinery"],
    &["retail", "stores", "markets", "outfitters", "brands"],
    &["bank", "bancorp", "savings", "trust"],
    &["insurance", "assurance", "mutual", "underwriters"],
    &["holdings", "group", "capital", "partners", "investments"],
    &["energy", "power", "renewables", "resources", "utilities"],
    &["health", "medical", "pharma", "biosciences", "care"],
    &["media", "studios", "publishing", "broadcasting"],
    &["services", "logistics", "consulting", "ventures"],
];
const SEGMENTS: [&[&str]; 10] = [
    &["Platform", "Subscriptions", "Professional Services", "Marketplace"],
    &["Industrial", "Automotive", "Aerospace", "Aftermarket"],
    &["Stores", "Online", "Wholesale", "Franchise"],
    &["Retail Banking", "Corporate Banking", "Wealth", "Markets"],
    &["Life", "Property & Casualty", "Reinsurance", "Health"],
    &["Management Fees", "Investments", "Real Estate", "Services"],
    &["Upstream", "Downstream", "Renewables", "Trading"],
    &["Pharmaceuticals", "Devices", "Clinics", "Diagnostics"],
    &["Advertising", "Subscriptions", "Licensing", "Events"],
    &["Logistics", "Consulting", "Facilities", "Other"],
];
/// (slug, display name as JSON string content; a few use escapes or non-ASCII).
const FIRST_WORDS: [(&str, &str); 48] = [
    ("northwind", "Northwind"),
    ("contoso", "Contoso"),
    ("fabrikam", "Fabrikam"),
    ("tailspin", "Tailspin"),
    ("adventure", "Adventure"),
    ("litware", "Litware"),
    ("proseware", "Proseware"),
    ("wingtip", "Wingtip"),
    ("alpine", "Alpine"),
    ("blue-yonder", "Blue Yonder"),
    ("coho", "Coho"),
    ("woodgrove", "Woodgrove"),
    ("lucerne", "Lucerne"),
    ("margie", "Margie's"),
    ("trey", "Trey"),
    ("humongous", "Humongous"),
    ("fourth-coffee", "Fourth Coffee"),
    ("graphic", "Graphic"),
    ("relecloud", "Relecloud"),
    ("southridge", "Southridge"),
    ("datum", "A. Datum"),
    ("consolidated", "Consolidated"),
    ("nordstrom", "Nordstr\u{f6}m"),
    ("societe-lumiere", "Soci\\u00e9t\\u00e9 Lumi\\u00e8re"),
    ("muller", "M\u{fc}ller"),
    ("sakura", "Sakura"),
    ("harbour", "Harbour"),
    ("redwood", "Redwood"),
    ("granite", "Granite"),
    ("meridian", "Meridian"),
    ("silverline", "Silverline"),
    ("evergreen", "Evergreen"),
    ("summit", "Summit"),
    ("atlas", "Atlas"),
    ("orion", "Orion"),
    ("pioneer", "Pioneer"),
    ("vantage", "Vantage"),
    ("keystone", "Keystone"),
    ("horizon", "Horizon"),
    ("beacon", "Beacon"),
    ("cobalt", "Cobalt"),
    ("falcon", "Falcon"),
    ("juniper", "Juniper"),
    ("lakeside", "Lakeside"),
    ("quantum", "Quantum"),
    ("riverbend", "Riverbend"),
    ("sterling", "Sterling"),
    ("tidewater", "Tidewater"),
];
/// (ISO 3166-1 alpha-2, ISO 4217, legal suffix, exchanges where listed, weight)
const COUNTRIES: [(&str, &str, &str, &[&str], u32); 26] = [
    ("US", "USD", "Inc", &["NYSE", "NASDAQ"], 30),
    ("GB", "GBP", "Ltd", &["LSE"], 10),
    ("DE", "EUR", "GmbH", &["XETRA"], 8),
    ("FR", "EUR", "SA", &["EURONEXT"], 6),
    ("NL", "EUR", "BV", &["EURONEXT"], 4),
    ("JP", "JPY", "KK", &["TSE"], 6),
    ("HK", "HKD", "Ltd", &["HKEX"], 3),
    ("CA", "CAD", "Inc", &["NYSE", "NASDAQ"], 4),
    ("AU", "AUD", "Pty Ltd", &["NASDAQ"], 3),
    ("CH", "CHF", "AG", &["XETRA"], 3),
    ("SE", "SEK", "AB", &["NASDAQ"], 2),
    ("IE", "EUR", "Ltd", &["EURONEXT", "LSE"], 2),
    ("ES", "EUR", "SL", &["EURONEXT"], 2),
    ("IT", "EUR", "SpA", &["EURONEXT"], 2),
    ("BE", "EUR", "NV", &["EURONEXT"], 1),
    ("IN", "INR", "Pvt Ltd", &["NYSE"], 3),
    ("SG", "SGD", "Pte Ltd", &["NASDAQ"], 2),
    ("BR", "BRL", "Ltda", &["NYSE"], 2),
    ("MX", "MXN", "SA de CV", &["NYSE"], 1),
    ("KR", "KRW", "Co Ltd", &["NASDAQ"], 2),
    ("NO", "NOK", "AS", &["EURONEXT"], 1),
    ("DK", "DKK", "A/S", &["NASDAQ"], 1),
    ("PL", "PLN", "Sp z o o", &["XETRA"], 1),
    ("ZA", "ZAR", "Pty Ltd", &["LSE"], 1),
    ("FI", "EUR", "Oy", &["NASDAQ"], 1),
    ("CN", "CNY", "Co Ltd", &["HKEX"], 2),
];
const FISCAL_YEAR_ENDS: [&str; 7] = ["12-31", "03-31", "06-30", "09-30", "01-31", "02-28", "10-31"];
const FYE_WEIGHTS: [u32; 7] = [55, 15, 12, 10, 4, 2, 2];

const HAPPY: &str = "happy-path";
const FYE_MISMATCH: &str = "fiscal-year-mismatch";
const MINORITY: &str = "minority-stake";
const DEEP: &str = "deep-hierarchy";
const HOLDCO: &str = "holdco-without-operations";

// ---------------------------------------------------------------------------
// Company model
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Co {
    id: String,
    name: String,
    industry: &'static str,
    country: &'static str,
    currency: &'static str,
    founded: i64,
    public: bool,
    exchange: Option<&'static str>,
    ticker: Option<String>,
    /// Absent listing written as null (true) or left out (false).
    listing_null: bool,
    fye: &'static str,
    employees: i64,
    standalone: i64,
    consolidated: i64,
    eliminations: i64,
    /// 0: absent when zero, 1: null when zero, 2: always a number.
    elim_style: u8,
    emi: Option<i64>,
    emi_null: bool,
    margin_milli: i64,
    arr: Option<i64>,
    arr_null: bool,
    /// None = absent.
    segments: Option<Vec<(&'static str, i64)>>,
    owners: Vec<(String, i64)>,
    owners_empty_array: bool,
    behaviour: Option<&'static str>,
    flags: Option<Vec<&'static str>>,
    /// Unknown extra field: 0 none, 1 website, 2 source object, 3 tags, 4 notes null.
    extra: u8,
    /// Numeric spelling: 0 plain, 1 `640.0` employees, 2 `182e6` revenues.
    num_style: u8,
    // Generator-only data.
    industry_idx: usize,
    own_employees: i64,
    own_standalone: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fld {
    Id,
    Name,
    Industry,
    Country,
    FoundedYear,
    Public,
    Exchange,
    Ticker,
    Fye,
    Currency,
    Employees,
    Standalone,
    Consolidated,
    Elims,
    Emi,
    Margin,
    Arr,
    Segments,
    Owners,
    Behaviour,
    Flags,
}

const FIELDS: [(Fld, &str); 21] = [
    (Fld::Id, "id"),
    (Fld::Name, "name"),
    (Fld::Industry, "industry"),
    (Fld::Country, "country"),
    (Fld::FoundedYear, "founded_year"),
    (Fld::Public, "public"),
    (Fld::Exchange, "exchange"),
    (Fld::Ticker, "ticker"),
    (Fld::Fye, "fiscal_year_end"),
    (Fld::Currency, "currency"),
    (Fld::Employees, "employee_count"),
    (Fld::Standalone, "standalone_revenue"),
    (Fld::Consolidated, "consolidated_revenue"),
    (Fld::Elims, "intercompany_eliminations"),
    (Fld::Emi, "equity_method_income"),
    (Fld::Margin, "gross_margin"),
    (Fld::Arr, "arr"),
    (Fld::Segments, "segments"),
    (Fld::Owners, "owners"),
    (Fld::Behaviour, "behaviour_class"),
    (Fld::Flags, "plausibility_flags"),
];
const REQUIRED: [Fld; 12] = [
    Fld::Id,
    Fld::Name,
    Fld::Industry,
    Fld::Country,
    Fld::FoundedYear,
    Fld::Public,
    Fld::Fye,
    Fld::Currency,
    Fld::Employees,
    Fld::Standalone,
    Fld::Consolidated,
    Fld::Margin,
];

fn field_name(f: Fld) -> &'static str {
    FIELDS.iter().find(|(x, _)| *x == f).unwrap().1
}

enum Patch {
    Omit,
    Raw(String),
}

#[derive(Default)]
struct Patches {
    fields: Vec<(Fld, Patch)>,
    /// Raw `"key":value` pairs written before / after the regular fields
    /// (duplicate keys: the last one wins).
    pre: Vec<(&'static str, String)>,
    post: Vec<(&'static str, String)>,
}

impl Patches {
    fn raw(f: Fld, s: impl Into<String>) -> Self {
        Patches { fields: vec![(f, Patch::Raw(s.into()))], ..Default::default() }
    }
    fn omit(f: Fld) -> Self {
        Patches { fields: vec![(f, Patch::Omit)], ..Default::default() }
    }
    fn get(&self, f: Fld) -> Option<&Patch> {
        self.fields.iter().find(|(x, _)| *x == f).map(|(_, p)| p)
    }
}

enum LineMut {
    None,
    Truncate,
    Trailing(&'static str),
    Replace(&'static str),
    WrapArray,
    InvalidUtf8,
    TrailingComma,
    SingleQuotedKey,
    UnquotedKey,
    RawTabInString,
}

/// An ownership structure: edges (owner, child, stake in thousandths).
struct Group {
    nodes: Vec<Co>,
    edges: Vec<(usize, usize, i64)>,
    reverse: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    JsonTruncated,
    JsonTrailing,
    JsonNonObject,
    JsonBadNumber,
    JsonInvalidUtf8,
    JsonSyntax,
    SchemaMissing,
    SchemaNull,
    SchemaWrongType,
    SchemaNonInteger,
    SchemaOptionalType,
    EmployeeRange,
    FoundedYear,
    ConsolidatedPositive,
    StandaloneNonNegative,
    MarginRange,
    FyeFormat,
    CountryFormat,
    IndustryUnknown,
    StakeRange,
    StakesWhole,
    SaasMargin,
    PublicListing,
    PrivateListing,
    SegmentsSum,
    StandaloneWithin,
    ArrNonSaas,
    OwnersExist,
    Cycle,
    ConsolidationCovers,
    MinorityConsolidated,
    EquityMethod,
    DuplicateId,
    SaasStaff,
    Holdco,
    RevenuePerEmployee,
    DuplicateKey,
}

const KINDS: [(Kind, u32); 37] = [
    (Kind::JsonTruncated, 1),
    (Kind::JsonTrailing, 1),
    (Kind::JsonNonObject, 1),
    (Kind::JsonBadNumber, 1),
    (Kind::JsonInvalidUtf8, 1),
    (Kind::JsonSyntax, 1),
    (Kind::SchemaMissing, 2),
    (Kind::SchemaNull, 1),
    (Kind::SchemaWrongType, 2),
    (Kind::SchemaNonInteger, 1),
    (Kind::SchemaOptionalType, 2),
    (Kind::EmployeeRange, 2),
    (Kind::FoundedYear, 2),
    (Kind::ConsolidatedPositive, 2),
    (Kind::StandaloneNonNegative, 2),
    (Kind::MarginRange, 2),
    (Kind::FyeFormat, 2),
    (Kind::CountryFormat, 2),
    (Kind::IndustryUnknown, 2),
    (Kind::StakeRange, 2),
    (Kind::StakesWhole, 2),
    (Kind::SaasMargin, 2),
    (Kind::PublicListing, 2),
    (Kind::PrivateListing, 2),
    (Kind::SegmentsSum, 2),
    (Kind::StandaloneWithin, 2),
    (Kind::ArrNonSaas, 2),
    (Kind::OwnersExist, 2),
    (Kind::Cycle, 2),
    (Kind::ConsolidationCovers, 2),
    (Kind::MinorityConsolidated, 2),
    (Kind::EquityMethod, 2),
    (Kind::DuplicateId, 2),
    (Kind::SaasStaff, 3),
    (Kind::Holdco, 2),
    (Kind::RevenuePerEmployee, 2),
    (Kind::DuplicateKey, 1),
];

/// Kinds that may hit a member of a valid group (with the knock-on effects on
/// the rest of the group that the rules imply).
const IN_GROUP_KINDS: [Kind; 12] = [
    Kind::FoundedYear,
    Kind::MarginRange,
    Kind::FyeFormat,
    Kind::CountryFormat,
    Kind::IndustryUnknown,
    Kind::SaasMargin,
    Kind::PrivateListing,
    Kind::ArrNonSaas,
    Kind::OwnersExist,
    Kind::SchemaMissing,
    Kind::SchemaWrongType,
    Kind::SegmentsSum,
];

// ---------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------

struct Gen {
    rng: Rng,
    buf: Vec<u8>,
    emitted: usize,
    violating: usize,
    next_serial: u64,
    violations: f64,
    /// Fiscal-year mismatch bookkeeping over multi-entity groups.
    multi_groups: u64,
    mismatched_groups: u64,
    mismatch_target: f64,
    deep_mislabel: f64,
    kind_weights: Vec<u32>,
    country_weights: Vec<u32>,
}

impl Gen {
    fn new(cfg: &GenConfig) -> Self {
        let v = if cfg.violations.is_finite() { cfg.violations.clamp(0.0, 1.0) } else { 0.0 };
        Gen {
            rng: Rng::new(cfg.seed),
            buf: Vec::with_capacity(1 << 17),
            emitted: 0,
            violating: 0,
            next_serial: 0,
            violations: v,
            multi_groups: 0,
            mismatched_groups: 0,
            mismatch_target: (0.15 + 1.5 * v).min(0.9),
            deep_mislabel: (5.0 * v).min(1.0),
            kind_weights: KINDS.iter().map(|(_, w)| *w).collect(),
            country_weights: COUNTRIES.iter().map(|c| c.4).collect(),
        }
    }

    fn serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }

    fn label(&mut self, class: &'static str) -> Option<&'static str> {
        if self.rng.chance(0.07) {
            return None;
        }
        if class == DEEP && self.rng.chance(self.deep_mislabel) {
            return Some("deep_hierarchy");
        }
        Some(class)
    }

    // ----- companies -------------------------------------------------------

    fn operating_industry(&mut self) -> usize {
        self.rng.weighted(&OPERATING_WEIGHTS)
    }

    fn country(&mut self) -> usize {
        self.rng.weighted(&self.country_weights)
    }

    /// A fresh, self-consistent standalone company (no owners, no subsidiaries).
    /// `size`: 0 standalone, 1 subsidiary, 2 holding's own operations.
    fn company(&mut self, industry_idx: usize, country_idx: usize, size: u8) -> Co {
        let serial = self.serial();
        let (slug, display) = *self.rng.pick(&FIRST_WORDS);
        let second = *self.rng.pick(SECOND_WORDS[industry_idx]);
        let (code, currency, suffix, _, _) = COUNTRIES[country_idx];
        let id = format!("{}-{}-{}", slug, second, serial);
        let mut second_display = String::with_capacity(second.len());
        for (i, ch) in second.chars().enumerate() {
            second_display.push(if i == 0 { ch.to_ascii_uppercase() } else { ch });
        }
        let name = format!("{} {} {}", display, second_display, suffix);
        let employees = match size {
            0 => self.rng.log_uniform(5, 50_000),
            1 => self.rng.log_uniform(5, 20_000),
            _ => self.rng.log_uniform(3, 150),
        };
        let (rlo, rhi) = RATIO[industry_idx];
        let standalone = employees * self.rng.range(rlo / 1000, rhi / 1000) * 1000;
        let (mlo, mhi) = MARGIN[industry_idx];
        let founded = match self.rng.below(20) {
            0 => self.rng.range(1850, 1899),
            1..=5 => self.rng.range(1900, 1969),
            _ => self.rng.range(1970, 2020),
        };
        let fye = FISCAL_YEAR_ENDS[self.rng.weighted(&FYE_WEIGHTS)];
        let extra = match self.rng.below(100) {
            0..=7 => 1,
            8..=13 => 2,
            14..=17 => 3,
            18..=19 => 4,
            _ => 0,
        };
        let num_style = match self.rng.below(200) {
            0 => 1,
            1 => 2,
            _ => 0,
        };
        Co {
            id,
            name,
            industry: INDUSTRIES[industry_idx],
            country: code,
            currency,
            founded,
            public: false,
            exchange: None,
            ticker: None,
            listing_null: self.rng.chance(0.6),
            fye,
            employees,
            standalone,
            consolidated: standalone,
            eliminations: 0,
            elim_style: self.rng.below(3) as u8,
            emi: None,
            emi_null: self.rng.chance(0.3),
            margin_milli: self.rng.range(mlo, mhi),
            arr: None,
            arr_null: self.rng.chance(0.5),
            segments: None,
            owners: Vec::new(),
            owners_empty_array: self.rng.chance(0.1),
            behaviour: None,
            flags: if self.rng.chance(0.03) { Some(Vec::new()) } else { None },
            extra,
            num_style,
            industry_idx,
            own_employees: employees,
            own_standalone: standalone,
        }
    }

    fn make_public(&mut self, co: &mut Co) {
        let country_idx = COUNTRIES.iter().position(|c| c.0 == co.country).unwrap_or(0);
        let exchange = *self.rng.pick(COUNTRIES[country_idx].3);
        co.public = true;
        co.exchange = Some(exchange);
        co.ticker = Some(self.ticker(exchange));
    }

    fn letters(&mut self, n: i64) -> String {
        (0..n).map(|_| (b'A' + self.rng.below(26) as u8) as char).collect()
    }

    fn digits(&mut self, n: i64) -> String {
        (0..n).map(|_| (b'0' + self.rng.below(10) as u8) as char).collect()
    }

    /// A ticker matching the exchange's pattern.
    fn ticker(&mut self, exchange: &str) -> String {
        match exchange {
            "NYSE" => {
                let n = self.rng.range(1, 4);
                let mut t = self.letters(n);
                if self.rng.chance(0.1) {
                    t.push('.');
                    t.push(if self.rng.chance(0.5) { 'A' } else { 'B' });
                }
                t
            }
            "NASDAQ" => {
                let n = self.rng.range(1, 5);
                self.letters(n)
            }
            "LSE" => {
                let n = self.rng.range(2, 4);
                self.letters(n)
            }
            "XETRA" => {
                let n = self.rng.range(2, 4);
                let mut t = self.letters(n);
                if self.rng.chance(0.2) {
                    t.pop();
                    t.push((b'0' + self.rng.below(10) as u8) as char);
                }
                t
            }
            "EURONEXT" => {
                let n = self.rng.range(2, 5);
                self.letters(n)
            }
            "TSE" => self.digits(4),
            _ => {
                let n = self.rng.range(4, 5);
                self.digits(n)
            }
        }
    }

    /// Segments summing exactly to `total` (absent 40%, empty 5%).
    fn segments_for(&mut self, industry_idx: usize, total: i64) -> Option<Vec<(&'static str, i64)>> {
        let roll = self.rng.below(100);
        if roll < 40 {
            return None;
        }
        if roll < 45 || total <= 0 {
            return Some(Vec::new());
        }
        let names = SEGMENTS[industry_idx];
        let k = if total < 3 { 1 } else { self.rng.range(1, 3) as usize };
        let start = self.rng.below(names.len() as u64) as usize;
        let mut out = Vec::with_capacity(k);
        let mut left = total;
        for i in 0..k {
            let name = names[(start + i) % names.len()];
            let part = if i + 1 == k { left } else { left * self.rng.range(35, 75) / 100 };
            out.push((name, part));
            left -= part;
        }
        Some(out)
    }

    /// Recomputes the fields derived from `consolidated` (segments, arr).
    fn refresh_derived(&mut self, co: &mut Co) {
        co.segments = self.segments_for(co.industry_idx, co.consolidated);
        co.arr = if co.industry == "SaaS" && self.rng.chance(0.85) && co.consolidated > 0 {
            Some(co.consolidated / 100 * self.rng.range(70, 96))
        } else {
            None
        };
    }

    /// Wires owners from the edges and computes consolidated figures bottom-up
    /// with the same classification as the rules (controlled: any stake > 0.5;
    /// investee: any stake in [0.2, 0.5]). Edges must go from lower to higher
    /// index (back edges are wired but ignored in the sums).
    fn finalize(&mut self, g: &mut Group) {
        for &(p, c, stake) in &g.edges {
            let owner_id = g.nodes[p].id.clone();
            g.nodes[c].owners.push((owner_id, stake));
        }
        for i in (0..g.nodes.len()).rev() {
            let mut ctrl: Vec<usize> = Vec::new();
            let mut investee = false;
            for &(p, c, stake) in &g.edges {
                if p != i || c <= i {
                    continue;
                }
                if stake > 500 && !ctrl.contains(&c) {
                    ctrl.push(c);
                }
                if (200..=500).contains(&stake) {
                    investee = true;
                }
            }
            let sum_cr: i64 = ctrl.iter().map(|&c| g.nodes[c].consolidated).sum();
            let sum_ec: i64 = ctrl.iter().map(|&c| g.nodes[c].employees).sum();
            let elims = if sum_cr > 0 && self.rng.chance(0.6) { sum_cr / 1000 * self.rng.range(1, 30) } else { 0 };
            let emi = if investee {
                Some(self.rng.range(-2_000, 20_000) * 1000)
            } else if self.rng.chance(0.1) {
                Some(0)
            } else {
                None
            };
            let co = &mut g.nodes[i];
            co.eliminations = elims;
            co.standalone = co.own_standalone;
            co.consolidated = co.own_standalone + sum_cr - elims;
            co.employees = co.own_employees + sum_ec;
            co.emi = emi;
            let mut co = std::mem::replace(&mut g.nodes[i], placeholder());
            self.refresh_derived(&mut co);
            g.nodes[i] = co;
        }
    }

    // ----- valid groups ----------------------------------------------------

    fn standalone(&mut self) -> Co {
        let ind = self.operating_industry();
        let country = self.country();
        let mut co = self.company(ind, country, 0);
        if self.rng.chance(0.12) {
            self.make_public(&mut co);
        }
        self.refresh_derived(&mut co);
        co.behaviour = self.label(HAPPY);
        co
    }

    fn sub_country(&mut self, parent_country: &str) -> usize {
        if self.rng.chance(0.7) {
            COUNTRIES.iter().position(|c| c.0 == parent_country).unwrap_or(0)
        } else {
            self.country()
        }
    }

    fn controlled_stake(&mut self) -> i64 {
        if self.rng.chance(0.6) {
            1000
        } else {
            self.rng.range(51, 95) * 10
        }
    }

    /// Builds one valid group of at most `max` companies.
    fn build_group(&mut self, max: usize) -> Group {
        let mut g = Group { nodes: Vec::new(), edges: Vec::new(), reverse: self.rng.chance(0.25) };
        // 0 standalone, 1 holding group, 2 deep chain, 3 holdco, 4 minority pair, 5 operating group
        let kind = self.rng.weighted(&[42, 18, 12, 8, 10, 10]);
        let country = self.country();
        let mut classes: Vec<&'static str> = Vec::new();
        match kind {
            1 if max >= 2 => {
                let mut root = self.company(5, country, 2);
                root.behaviour = Some(HAPPY);
                g.nodes.push(root);
                classes.push(HAPPY);
                let n_subs = self.rng.range(1, 4) as usize;
                for _ in 0..n_subs {
                    if g.nodes.len() >= max {
                        break;
                    }
                    let ind = self.operating_industry();
                    let sc = self.sub_country(g.nodes[0].country);
                    g.nodes.push(self.company(ind, sc, 1));
                    classes.push(HAPPY);
                    let sub = g.nodes.len() - 1;
                    let stake = self.controlled_stake();
                    g.edges.push((0, sub, stake));
                    if stake < 900 && self.rng.chance(0.25) {
                        // A second share class held by the same owner (parallel edge).
                        let extra = self.rng.range(1, ((1000 - stake) / 10).min(19)) * 10;
                        g.edges.push((0, sub, extra));
                    }
                    if self.rng.chance(0.3) {
                        for _ in 0..self.rng.range(1, 2) {
                            if g.nodes.len() >= max {
                                break;
                            }
                            let sc2 = self.sub_country(g.nodes[sub].country);
                            let ind2 = g.nodes[sub].industry_idx;
                            g.nodes.push(self.company(ind2, sc2, 1));
                            classes.push(HAPPY);
                            let leaf = g.nodes.len() - 1;
                            let s = self.controlled_stake();
                            g.edges.push((sub, leaf, s));
                        }
                    }
                }
                if g.nodes.len() < max && self.rng.chance(0.3) {
                    let ind = self.operating_industry();
                    let ac = self.country();
                    g.nodes.push(self.company(ind, ac, 0));
                    classes.push(MINORITY);
                    classes[0] = MINORITY;
                    let assoc = g.nodes.len() - 1;
                    let s = self.rng.range(20, 45) * 10;
                    g.edges.push((0, assoc, s));
                }
            }
            2 if max >= 3 => {
                let len = (self.rng.range(3, 7) as usize).min(max);
                for i in 0..len {
                    let ind =
                        if i + 1 < len && (i == 0 || self.rng.chance(0.4)) && self.rng.chance(0.6) { 5 } else { self.operating_industry() };
                    let c = if i == 0 { country } else { self.sub_country(g.nodes[i - 1].country) };
                    let size = if ind == 5 { 2 } else { 1 };
                    g.nodes.push(self.company(ind, c, size));
                    classes.push(DEEP);
                    if i > 0 {
                        let s = self.controlled_stake();
                        g.edges.push((i - 1, i, s));
                    }
                }
            }
            3 => {
                let mut root = self.company(5, country, 2);
                root.own_employees = self.rng.range(2, 40);
                root.own_standalone = root.own_employees * self.rng.range(150, 900) * 1000;
                root.flags = Some(vec![HOLDCO]);
                g.nodes.push(root);
                classes.push(HOLDCO);
                if self.rng.chance(0.5) {
                    for _ in 0..self.rng.range(1, 2) {
                        if g.nodes.len() >= max {
                            break;
                        }
                        let ind = self.operating_industry();
                        let c = self.country();
                        g.nodes.push(self.company(ind, c, 0));
                        let k = g.nodes.len() - 1;
                        let s = if self.rng.chance(0.6) {
                            classes.push(MINORITY);
                            self.rng.range(20, 45) * 10
                        } else {
                            classes.push(HAPPY);
                            self.rng.range(5, 19) * 10
                        };
                        g.edges.push((0, k, s));
                    }
                }
            }
            4 if max >= 2 => {
                let ind = self.operating_industry();
                g.nodes.push(self.company(ind, country, 0));
                let ind = self.operating_industry();
                let c = self.country();
                g.nodes.push(self.company(ind, c, 0));
                classes.push(MINORITY);
                classes.push(MINORITY);
                let s = self.rng.range(20, 50) * 10;
                g.edges.push((0, 1, s));
                if max >= 3 && self.rng.chance(0.3) {
                    // A co-investor, listed after the investee.
                    let ind = self.operating_industry();
                    let c = self.country();
                    g.nodes.push(self.company(ind, c, 0));
                    classes.push(MINORITY);
                    let s2 = self.rng.range(5, ((1000 - s) / 10).min(45)) * 10;
                    g.edges.push((2, 1, s2));
                }
            }
            5 if max >= 2 => {
                let ind = self.operating_industry();
                g.nodes.push(self.company(ind, country, 0));
                classes.push(HAPPY);
                for _ in 0..self.rng.range(1, 3) {
                    if g.nodes.len() >= max {
                        break;
                    }
                    let ind2 = if self.rng.chance(0.7) { ind } else { self.operating_industry() };
                    let c = self.sub_country(COUNTRIES[country].0);
                    g.nodes.push(self.company(ind2, c, 1));
                    classes.push(HAPPY);
                    let k = g.nodes.len() - 1;
                    let s = self.controlled_stake();
                    g.edges.push((0, k, s));
                }
            }
            _ => {
                let co = self.standalone();
                g.nodes.push(co);
                return g;
            }
        }
        // Edges with the co-investor of kind 4 go from a higher to a lower
        // index; sort the nodes so owners come first.
        self.order_owners_first(&mut g, &mut classes);

        // Fiscal years: inherited along control edges, with the mismatch quota.
        let ctrl_nodes: Vec<usize> = (0..g.nodes.len()).filter(|&c| g.edges.iter().any(|&(_, cc, s)| cc == c && s > 500)).collect();
        let multi = g.nodes.len() >= 2;
        let mut mismatch_node = None;
        if multi {
            self.multi_groups += 1;
            let quota = (self.mismatch_target * self.multi_groups as f64).round() as u64;
            if !ctrl_nodes.is_empty() && self.mismatched_groups < quota {
                mismatch_node = Some(*self.rng.pick(&ctrl_nodes));
                self.mismatched_groups += 1;
            }
        }
        for i in 0..g.nodes.len() {
            let parent = g.edges.iter().find(|&&(p, c, s)| c == i && s > 500 && p < i).map(|e| e.0);
            if let Some(p) = parent {
                let pf = g.nodes[p].fye;
                if Some(i) == mismatch_node {
                    let mut f = FISCAL_YEAR_ENDS[self.rng.weighted(&FYE_WEIGHTS)];
                    while f == pf {
                        f = *self.rng.pick(&FISCAL_YEAR_ENDS);
                    }
                    g.nodes[i].fye = f;
                    classes[i] = FYE_MISMATCH;
                    classes[p] = FYE_MISMATCH;
                } else {
                    g.nodes[i].fye = pf;
                }
            }
        }
        // Listings: group roots are sometimes public, subsidiaries rarely.
        for i in 0..g.nodes.len() {
            let owned = g.edges.iter().any(|&(_, c, _)| c == i);
            if self.rng.chance(if owned { 0.03 } else { 0.12 }) {
                let mut co = std::mem::replace(&mut g.nodes[i], placeholder());
                self.make_public(&mut co);
                g.nodes[i] = co;
            }
        }
        for i in 0..g.nodes.len() {
            g.nodes[i].behaviour = self.label(classes[i]);
        }
        self.finalize(&mut g);
        g
    }

    /// Reorders nodes so that every edge goes from a lower to a higher index
    /// (valid groups are acyclic).
    fn order_owners_first(&mut self, g: &mut Group, classes: &mut Vec<&'static str>) {
        if g.edges.iter().all(|&(p, c, _)| p < c) {
            return;
        }
        let n = g.nodes.len();
        let mut order: Vec<usize> = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        while order.len() < n {
            for i in 0..n {
                if !placed[i] && g.edges.iter().all(|&(p, c, _)| c != i || placed[p] || p == i) {
                    placed[i] = true;
                    order.push(i);
                }
            }
        }
        let mut pos = vec![0; n];
        for (new, &old) in order.iter().enumerate() {
            pos[old] = new;
        }
        let mut nodes: Vec<Option<Co>> = g.nodes.drain(..).map(Some).collect();
        g.nodes = order.iter().map(|&o| nodes[o].take().unwrap()).collect();
        *classes = order.iter().map(|&o| classes[o]).collect();
        for e in &mut g.edges {
            e.0 = pos[e.0];
            e.1 = pos[e.1];
        }
    }

    // ----- emission --------------------------------------------------------

    fn emit_group(&mut self, g: &Group, mutate: Option<(usize, Kind)>) {
        let n = g.nodes.len();
        for k in 0..n {
            let i = if g.reverse { n - 1 - k } else { k };
            match mutate {
                Some((m, kind)) if m == i => {
                    let mut co = g.nodes[i].clone();
                    let (p, lm) = self.single_mutation(kind, &mut co);
                    self.emit(&co, &p, &lm);
                }
                _ => self.emit(&g.nodes[i], &Patches::default(), &LineMut::None),
            }
        }
        self.emitted += n;
    }

    fn emit(&mut self, co: &Co, p: &Patches, m: &LineMut) {
        let start = self.buf.len();
        match m {
            LineMut::Replace(s) => self.buf.extend_from_slice(s.as_bytes()),
            _ => write_object(&mut self.buf, co, p),
        }
        match m {
            LineMut::None | LineMut::Replace(_) => {}
            LineMut::Truncate => {
                let len = self.buf.len() - start;
                let cut = start + len / 3 + self.rng.below((len / 2) as u64) as usize;
                self.buf.truncate(cut);
            }
            LineMut::Trailing(t) => self.buf.extend_from_slice(t.as_bytes()),
            LineMut::WrapArray => {
                self.buf.insert(start, b'[');
                self.buf.push(b']');
            }
            LineMut::InvalidUtf8 => {
                if let Some(at) = find(&self.buf[start..], b"\"name\":\"") {
                    let pos = start + at + 8;
                    self.buf[pos] = 0xFF;
                }
            }
            LineMut::TrailingComma => {
                self.buf.pop();
                self.buf.extend_from_slice(b",}");
            }
            LineMut::SingleQuotedKey => {
                if let Some(at) = find(&self.buf[start..], b"\"name\"") {
                    self.buf[start + at] = b'\'';
                    self.buf[start + at + 5] = b'\'';
                }
            }
            LineMut::UnquotedKey => {
                if let Some(at) = find(&self.buf[start..], b"\"currency\"") {
                    self.buf.remove(start + at + 9);
                    self.buf.remove(start + at);
                }
            }
            LineMut::RawTabInString => {
                if let Some(at) = find(&self.buf[start..], b"\"name\":\"") {
                    self.buf.insert(start + at + 8, b'\t');
                }
            }
        }
        if self.rng.chance(0.02) {
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.buf.push(b'\n');
        }
        if self.rng.chance(0.004) {
            let blank: &[u8] = match self.rng.below(4) {
                0 => b"\n",
                1 => b"   \n",
                2 => b"\t\r\n",
                _ => b"\r\n",
            };
            self.buf.extend_from_slice(blank);
        }
    }

    // ----- violations ------------------------------------------------------

    fn violation_unit(&mut self, remaining: usize) {
        let mut kind = KINDS[self.rng.weighted(&self.kind_weights)].0;
        let needs = match kind {
            Kind::StakeRange | Kind::MinorityConsolidated | Kind::EquityMethod | Kind::DuplicateId => 2,
            Kind::StakesWhole | Kind::ConsolidationCovers => 3,
            _ => 1,
        };
        if needs > remaining {
            kind = Kind::FoundedYear;
        }
        // Field-level mistakes sometimes land inside a valid group.
        if IN_GROUP_KINDS.contains(&kind) && self.rng.chance(0.35) {
            let g = self.build_group(remaining);
            if g.nodes.len() >= 2 {
                let m = self.rng.below(g.nodes.len() as u64) as usize;
                self.emit_group(&g, Some((m, kind)));
                self.violating += 1;
                return;
            }
            // A standalone company: mutate it like any other.
            let mut co = g.nodes.into_iter().next().unwrap();
            let (p, lm) = self.single_mutation(kind, &mut co);
            self.emit(&co, &p, &lm);
            self.emitted += 1;
            self.violating += 1;
            return;
        }
        match kind {
            Kind::StakeRange => {
                let mut g = self.pair();
                let stake = *self.rng.pick(&[0, -250, 1250, 1500]);
                g.edges.push((0, 1, stake));
                self.finalize(&mut g);
                self.emit_group(&g, None);
                self.violating += 1;
            }
            Kind::StakesWhole => {
                let mut g = self.pair();
                let ind = self.operating_industry();
                let c = self.country();
                let mut child = self.company(ind, c, 1);
                child.behaviour = self.label(MINORITY);
                g.nodes.push(child);
                let (a, b) = *self.rng.pick(&[(700, 400), (600, 600), (550, 500), (1000, 100)]);
                g.edges.push((0, 2, a));
                g.edges.push((1, 2, b));
                // Same year end along control edges: this unit breaks only the stake sum.
                let fye = g.nodes[0].fye;
                g.nodes[1].fye = fye;
                g.nodes[2].fye = fye;
                self.finalize(&mut g);
                self.emit_group(&g, None);
                self.violating += 1;
            }
            Kind::Cycle => {
                let k = self.rng.range(1, 5) as usize;
                let mut g = Group { nodes: Vec::new(), edges: Vec::new(), reverse: false };
                for _ in 0..k.min(remaining) {
                    let co = self.standalone();
                    g.nodes.push(co);
                }
                let k = g.nodes.len();
                if k == 1 {
                    let s = *self.rng.pick(&[100, 1000, 300]);
                    g.edges.push((0, 0, s));
                } else {
                    for i in 0..k {
                        let s = self.rng.range(5, 19) * 10;
                        g.edges.push((i, (i + 1) % k, s));
                    }
                }
                // A company owned by the cycle without being on it.
                let tail = remaining > k && self.rng.chance(0.4);
                if tail {
                    let co = self.standalone();
                    g.nodes.push(co);
                    g.edges.push((0, k, self.rng.range(5, 19) * 10));
                }
                self.finalize(&mut g);
                // A self-held investee stake needs equity-method income.
                if g.edges.iter().any(|&(p, c, s)| p == c && (200..=500).contains(&s)) {
                    g.nodes[0].emi = Some(0);
                }
                self.emit_group(&g, None);
                self.violating += k;
            }
            Kind::ConsolidationCovers => {
                let mut g = Group { nodes: Vec::new(), edges: Vec::new(), reverse: self.rng.chance(0.3) };
                let country = self.country();
                let ind = self.operating_industry();
                let parent = self.company(ind, country, 0);
                g.nodes.push(parent);
                for k in 1..=2 {
                    let c = self.sub_country(g.nodes[0].country);
                    let sub = self.company(ind, c, 1);
                    g.nodes.push(sub);
                    let s = self.controlled_stake();
                    g.edges.push((0, k, s));
                }
                let fye = g.nodes[0].fye;
                for co in g.nodes.iter_mut() {
                    co.fye = fye;
                    co.behaviour = Some(HAPPY);
                }
                self.finalize(&mut g);
                // The parent reports less than its subsidiaries' own revenue.
                let sum_sr: i64 = g.nodes[1..].iter().map(|c| c.standalone).sum();
                let p = &mut g.nodes[0];
                p.consolidated = (sum_sr / 2).max(1000);
                p.standalone = p.consolidated / 4;
                p.eliminations = 0;
                let mut p = std::mem::replace(&mut g.nodes[0], placeholder());
                self.refresh_derived(&mut p);
                g.nodes[0] = p;
                self.emit_group(&g, None);
                self.violating += 1;
            }
            Kind::MinorityConsolidated => {
                let mut g = self.pair();
                let s = self.rng.range(20, 45) * 10;
                g.edges.push((0, 1, s));
                self.finalize(&mut g);
                // The investor consolidated its associate's revenue.
                let floor = g.nodes[0].consolidated / 10 + 1000;
                let inv = &mut g.nodes[1];
                if inv.consolidated < floor {
                    inv.standalone = floor;
                    inv.consolidated = floor;
                    inv.employees = (floor / 200_000).max(1);
                    inv.own_standalone = floor;
                }
                let add = g.nodes[1].consolidated;
                let mut p = std::mem::replace(&mut g.nodes[0], placeholder());
                p.consolidated += add;
                p.employees += g.nodes[1].employees;
                self.refresh_derived(&mut p);
                g.nodes[0] = p;
                let mut i = std::mem::replace(&mut g.nodes[1], placeholder());
                self.refresh_derived(&mut i);
                g.nodes[1] = i;
                self.emit_group(&g, None);
                self.violating += 1;
            }
            Kind::EquityMethod => {
                let mut g = self.pair();
                let s = self.rng.range(20, 50) * 10;
                g.edges.push((0, 1, s));
                self.finalize(&mut g);
                g.nodes[0].emi = None;
                self.emit_group(&g, None);
                self.violating += 1;
            }
            Kind::DuplicateId => {
                let first = self.standalone();
                let mut second = self.standalone();
                second.id = first.id.clone();
                if self.rng.chance(0.5) {
                    second.name = first.name.clone();
                }
                self.emit(&first, &Patches::default(), &LineMut::None);
                self.emit(&second, &Patches::default(), &LineMut::None);
                self.emitted += 2;
                self.violating += 2;
            }
            _ => {
                let mut co = self.standalone();
                let (p, lm) = self.single_mutation(kind, &mut co);
                self.emit(&co, &p, &lm);
                self.emitted += 1;
                self.violating += 1;
            }
        }
    }

    /// Two standalone companies (owner 0, child 1) sharing a fiscal year end.
    fn pair(&mut self) -> Group {
        let a = self.standalone();
        let mut b = self.standalone();
        b.fye = a.fye;
        b.behaviour = a.behaviour.map(|_| MINORITY);
        Group { nodes: vec![a, b], edges: Vec::new(), reverse: self.rng.chance(0.3) }
    }

    /// Mutates one company so that it breaks the rule(s) of `kind`.
    fn single_mutation(&mut self, kind: Kind, co: &mut Co) -> (Patches, LineMut) {
        let r = &mut self.rng;
        let none = LineMut::None;
        match kind {
            Kind::JsonTruncated => (Patches::default(), LineMut::Truncate),
            Kind::JsonTrailing => {
                let t = *r.pick(&[" x", ",", "}", " {\"id\":\"again\"}", "\u{0}", " // note", "]"]);
                (Patches::default(), LineMut::Trailing(t))
            }
            Kind::JsonNonObject => {
                if r.chance(0.3) {
                    (Patches::default(), LineMut::WrapArray)
                } else {
                    let s = *r.pick(&["[]", "null", "42", "\"northwind-cloud\"", "true", "[{\"id\":\"x\"}]"]);
                    (Patches::default(), LineMut::Replace(s))
                }
            }
            Kind::JsonBadNumber => {
                let raw = *r.pick(&["1e400", "NaN", "Infinity", "-Infinity", "012", "+5", ".5", "1.", "0x1F", "-1e999"]);
                let f = *r.pick(&[Fld::Employees, Fld::Standalone, Fld::Consolidated, Fld::Margin, Fld::FoundedYear]);
                (Patches::raw(f, raw), none)
            }
            Kind::JsonInvalidUtf8 => (Patches::default(), LineMut::InvalidUtf8),
            Kind::JsonSyntax => {
                let m = match r.below(5) {
                    0 => LineMut::TrailingComma,
                    1 => LineMut::SingleQuotedKey,
                    2 => LineMut::UnquotedKey,
                    3 => LineMut::RawTabInString,
                    _ => return (Patches::raw(Fld::Public, "True"), none),
                };
                (Patches::default(), m)
            }
            Kind::SchemaMissing => (Patches::omit(*r.pick(&REQUIRED)), none),
            Kind::SchemaNull => (Patches::raw(*r.pick(&REQUIRED), "null"), none),
            Kind::SchemaWrongType => {
                let f = *r.pick(&REQUIRED);
                let raw = match f {
                    Fld::Id => "12345".to_string(),
                    Fld::Name => "42".to_string(),
                    Fld::Industry => "[\"SaaS\"]".to_string(),
                    Fld::Country => "826".to_string(),
                    Fld::FoundedYear => format!("\"{}\"", co.founded),
                    Fld::Public => (*r.pick(&["\"yes\"", "1", "0", "\"false\""])).to_string(),
                    Fld::Fye => "1231".to_string(),
                    Fld::Currency => "{\"code\":\"USD\"}".to_string(),
                    Fld::Employees => format!("\"{}\"", co.employees),
                    Fld::Standalone => format!("\"{}M\"", co.standalone / 1_000_000),
                    Fld::Consolidated => format!("{{\"value\":{}}}", co.consolidated),
                    _ => format!("\"{}%\"", co.margin_milli / 10),
                };
                (Patches::raw(f, raw), none)
            }
            Kind::SchemaNonInteger => {
                if r.chance(0.6) {
                    (Patches::raw(Fld::Employees, format!("{}.5", co.employees)), none)
                } else {
                    (Patches::raw(Fld::FoundedYear, format!("{}.5", co.founded)), none)
                }
            }
            Kind::SchemaOptionalType => {
                let (f, raw): (Fld, &str) = *r.pick(&[
                    (Fld::Exchange, "7203"),
                    (Fld::Ticker, "7203"),
                    (Fld::Elims, "\"0\""),
                    (Fld::Emi, "\"n/a\""),
                    (Fld::Arr, "\"171M\""),
                    (Fld::Segments, "{\"Platform\":150000000}"),
                    (Fld::Segments, "[{\"name\":\"Platform\"}]"),
                    (Fld::Segments, "[{\"name\":\"Platform\",\"revenue\":\"150000000\"}]"),
                    (Fld::Segments, "[\"Platform\"]"),
                    (Fld::Owners, "[{\"id\":\"missing-owner-0\"}]"),
                    (Fld::Owners, "\"northwind-group\""),
                    (Fld::Owners, "[{\"id\":7,\"stake\":0.5}]"),
                    (Fld::Owners, "[{\"id\":\"missing-owner-0\",\"stake\":\"80%\"}]"),
                    (Fld::Behaviour, "3"),
                    (Fld::Flags, "\"holdco\""),
                    (Fld::Flags, "[1]"),
                ]);
                (Patches::raw(f, raw), none)
            }
            Kind::EmployeeRange => {
                match r.below(3) {
                    0 => co.employees = 0,
                    1 => co.employees = -r.range(1, 500),
                    _ => {
                        co.employees = r.range(10_000_001, 30_000_000);
                        co.consolidated = co.employees * 20_000;
                        co.standalone = co.consolidated;
                        co.eliminations = 0;
                        co.segments = None;
                    }
                }
                (Patches::default(), none)
            }
            Kind::FoundedYear => {
                co.founded = *r.pick(&[2999, 3025, 1492, 1066, 0, 20201]);
                (Patches::default(), none)
            }
            Kind::ConsolidatedPositive => {
                co.standalone = 0;
                co.consolidated = if r.chance(0.5) { 0 } else { -r.range(1, 50_000) * 1000 };
                co.segments = None;
                co.arr = None;
                (Patches::default(), none)
            }
            Kind::StandaloneNonNegative => {
                co.standalone = -r.range(1, 50_000) * 1000;
                (Patches::default(), none)
            }
            Kind::MarginRange => {
                let raw = *r.pick(&["1.35", "-1.5", "74", "2", "-40", "1.0001"]);
                (Patches::raw(Fld::Margin, raw), none)
            }
            Kind::FyeFormat => {
                co.fye =
                    *r.pick(&["02-30", "13-01", "2023-12-31", "12/31", "04-31", "00-10", "1231", "12-32", "Dec-31", " 12-31", "6-30", ""]);
                (Patches::default(), none)
            }
            Kind::CountryFormat => {
                co.country = *r.pick(&["gb", "GBR", "U.K.", "", "Deutschland", "us", "G", "\\u00c9S"]);
                (Patches::default(), none)
            }
            Kind::IndustryUnknown => {
                co.industry = *r.pick(&["Software", "saas", "Fintech", "Biotech", "Holdings", "Real Estate", "SAAS", ""]);
                co.arr = None;
                co.flags = None;
                (Patches::default(), none)
            }
            Kind::SaasMargin => {
                co.industry = "SaaS";
                co.industry_idx = 0;
                co.margin_milli = r.range(200, 600);
                co.flags = None;
                (Patches::default(), none)
            }
            Kind::PublicListing => {
                co.public = true;
                let (ex, t): (Option<&'static str>, Option<&str>) = *r.pick(&[
                    (None, Some("ABC")),
                    (Some("NYSE"), None),
                    (None, None),
                    (Some("NYSEX"), Some("ABC")),
                    (Some("Nasdaq"), Some("ABCD")),
                    (Some("SIX"), Some("NESN")),
                    (Some("NASDAQ"), Some("GOOGLE")),
                    (Some("NYSE"), Some("BRK.AB")),
                    (Some("NYSE"), Some("brk")),
                    (Some("LSE"), Some("V")),
                    (Some("TSE"), Some("72030")),
                    (Some("HKEX"), Some("700")),
                    (Some("XETRA"), Some("SAP_")),
                    (Some("EURONEXT"), Some("A")),
                    (Some("NYSE"), Some("")),
                ]);
                co.exchange = ex;
                co.ticker = t.map(str::to_string);
                (Patches::default(), none)
            }
            Kind::PrivateListing => {
                co.public = false;
                let (ex, t): (Option<&'static str>, Option<&str>) =
                    *r.pick(&[(Some("LSE"), Some("ABC")), (None, Some("")), (Some("NASDAQ"), None), (Some(""), None)]);
                co.exchange = ex;
                co.ticker = t.map(str::to_string);
                (Patches::default(), none)
            }
            Kind::SegmentsSum => {
                let names = SEGMENTS[co.industry_idx];
                let factor = *r.pick(&[50, 80, 95, 105, 120, 200]);
                let total = (co.consolidated.max(1000) / 100) * factor;
                let a = total / 2;
                co.segments = Some(vec![(names[0], a), (names[1], total - a)]);
                (Patches::default(), none)
            }
            Kind::StandaloneWithin => {
                co.standalone = co.consolidated / 10 * r.range(11, 15);
                co.eliminations = 0;
                (Patches::default(), none)
            }
            Kind::ArrNonSaas => {
                if co.industry == "SaaS" {
                    co.industry = "Media";
                    co.industry_idx = 8;
                    co.margin_milli = 450;
                }
                co.arr = Some((co.consolidated / 100).max(1) * r.range(10, 60));
                co.flags = None;
                (Patches::default(), none)
            }
            Kind::OwnersExist => {
                let n = r.next_u64() % 1_000_000;
                let stake = r.range(5, 45) * 10;
                co.owners.push((format!("missing-owner-{}", n), stake));
                if co.owners.iter().map(|o| o.1).sum::<i64>() > 1000 {
                    co.owners.pop();
                    co.owners.push((format!("missing-owner-{}", n), 10));
                }
                (Patches::default(), none)
            }
            Kind::SaasStaff => {
                co.industry = "SaaS";
                co.industry_idx = 0;
                co.margin_milli = r.range(700, 850);
                co.employees = r.range(8, 50);
                let arr = r.range(105, 600) * 1_000_000;
                co.arr = Some(arr);
                co.consolidated = arr / 100 * r.range(105, 120);
                co.standalone = co.consolidated;
                co.eliminations = 0;
                co.segments = None;
                co.flags = None;
                (Patches::default(), none)
            }
            Kind::Holdco => {
                co.industry = "Holding";
                co.industry_idx = 5;
                co.margin_milli = 600;
                co.arr = None;
                co.flags = Some(if r.chance(0.5) { Vec::new() } else { vec!["legacy-entity"] });
                (Patches::default(), none)
            }
            Kind::RevenuePerEmployee => {
                if r.chance(0.5) {
                    co.employees = r.range(2_000, 20_000);
                    co.consolidated = co.employees * r.range(1_000, 4_900);
                } else {
                    co.employees = r.range(2, 10);
                    co.consolidated = co.employees * r.range(5_500, 20_000) * 1000;
                }
                co.standalone = co.consolidated;
                co.eliminations = 0;
                co.segments = None;
                co.arr = None;
                co.industry = "Other";
                co.industry_idx = 9;
                co.margin_milli = 300;
                co.flags = None;
                (Patches::default(), none)
            }
            Kind::DuplicateKey => {
                let mut p = Patches::default();
                if r.chance(0.5) {
                    // The first value is wrong, the last one (the real one) wins: accepted.
                    p.pre.push(("employee_count", "-1".to_string()));
                } else {
                    // The last value wins and breaks country-code-format.
                    p.post.push(("country", "\"gbr\"".to_string()));
                }
                (p, none)
            }
            // Multi-company kinds are handled in violation_unit.
            _ => (Patches::default(), none),
        }
    }
}

fn placeholder() -> Co {
    Co {
        id: String::new(),
        name: String::new(),
        industry: "",
        country: "",
        currency: "",
        founded: 0,
        public: false,
        exchange: None,
        ticker: None,
        listing_null: false,
        fye: "",
        employees: 0,
        standalone: 0,
        consolidated: 0,
        eliminations: 0,
        elim_style: 0,
        emi: None,
        emi_null: false,
        margin_milli: 0,
        arr: None,
        arr_null: false,
        segments: None,
        owners: Vec::new(),
        owners_empty_array: false,
        behaviour: None,
        flags: None,
        extra: 0,
        num_style: 0,
        industry_idx: 0,
        own_employees: 0,
        own_standalone: 0,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// JSON writing (all generated strings are plain JSON string content)
// ---------------------------------------------------------------------------

fn push_int(buf: &mut Vec<u8>, v: i64) {
    let mut tmp = [0u8; 24];
    let mut i = tmp.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        tmp[i] = b'-';
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Thousandths as a short decimal: 1000 → `1`, 510 → `0.51`, -250 → `-0.25`.
fn push_milli(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let a = v.unsigned_abs();
    push_int(buf, (a / 1000) as i64);
    let mut frac = a % 1000;
    if frac != 0 {
        buf.push(b'.');
        let mut digits = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let s = format!("{:0width$}", frac, width = digits);
        buf.extend_from_slice(s.as_bytes());
    }
}

/// An integer amount, sometimes in exponent form (`182e6`), which is exact.
fn push_amount(buf: &mut Vec<u8>, v: i64, style: u8) {
    if style == 2 && v != 0 {
        let mut m = v;
        let mut e = 0;
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        if e >= 3 {
            push_int(buf, m);
            buf.push(b'e');
            push_int(buf, e);
            return;
        }
    }
    push_int(buf, v);
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    buf.extend_from_slice(s.as_bytes());
    buf.push(b'"');
}

fn push_key(buf: &mut Vec<u8>, first: &mut bool, key: &str) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
    buf.push(b'"');
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

fn write_object(buf: &mut Vec<u8>, co: &Co, p: &Patches) {
    buf.push(b'{');
    let mut first = true;
    for (k, raw) in &p.pre {
        push_key(buf, &mut first, k);
        buf.extend_from_slice(raw.as_bytes());
    }
    for &(f, key) in FIELDS.iter() {
        match p.get(f) {
            Some(Patch::Omit) => continue,
            Some(Patch::Raw(raw)) => {
                push_key(buf, &mut first, key);
                buf.extend_from_slice(raw.as_bytes());
                continue;
            }
            None => {}
        }
        match f {
            Fld::Id => {
                push_key(buf, &mut first, key);
                push_str(buf, &co.id);
            }
            Fld::Name => {
                push_key(buf, &mut first, key);
                push_str(buf, &co.name);
            }
            Fld::Industry => {
                push_key(buf, &mut first, key);
                push_str(buf, co.industry);
            }
            Fld::Country => {
                push_key(buf, &mut first, key);
                push_str(buf, co.country);
            }
            Fld::FoundedYear => {
                push_key(buf, &mut first, key);
                push_int(buf, co.founded);
            }
            Fld::Public => {
                push_key(buf, &mut first, key);
                buf.extend_from_slice(if co.public { b"true" } else { b"false" });
            }
            Fld::Exchange => match co.exchange {
                Some(e) => {
                    push_key(buf, &mut first, key);
                    push_str(buf, e);
                }
                None if co.listing_null => {
                    push_key(buf, &mut first, key);
                    buf.extend_from_slice(b"null");
                }
                None => {}
            },
            Fld::Ticker => match &co.ticker {
                Some(t) => {
                    push_key(buf, &mut first, key);
                    push_str(buf, t);
                }
                None if co.listing_null => {
                    push_key(buf, &mut first, key);
                    buf.extend_from_slice(b"null");
                }
                None => {}
            },
            Fld::Fye => {
                push_key(buf, &mut first, key);
                push_str(buf, co.fye);
            }
            Fld::Currency => {
                push_key(buf, &mut first, key);
                push_str(buf, co.currency);
            }
            Fld::Employees => {
                push_key(buf, &mut first, key);
                push_int(buf, co.employees);
                if co.num_style == 1 {
                    buf.extend_from_slice(b".0");
                }
            }
            Fld::Standalone => {
                push_key(buf, &mut first, key);
                push_amount(buf, co.standalone, co.num_style);
            }
            Fld::Consolidated => {
                push_key(buf, &mut first, key);
                push_amount(buf, co.consolidated, co.num_style);
            }
            Fld::Elims => {
                if co.eliminations != 0 || co.elim_style == 2 {
                    push_key(buf, &mut first, key);
                    push_int(buf, co.eliminations);
                } else if co.elim_style == 1 {
                    push_key(buf, &mut first, key);
                    buf.extend_from_slice(b"null");
                }
            }
            Fld::Emi => match co.emi {
                Some(v) => {
                    push_key(buf, &mut first, key);
                    push_int(buf, v);
                }
                None if co.emi_null => {
                    push_key(buf, &mut first, key);
                    buf.extend_from_slice(b"null");
                }
                None => {}
            },
            Fld::Margin => {
                push_key(buf, &mut first, key);
                push_milli(buf, co.margin_milli);
            }
            Fld::Arr => match co.arr {
                Some(v) => {
                    push_key(buf, &mut first, key);
                    push_amount(buf, v, co.num_style);
                }
                None if co.arr_null => {
                    push_key(buf, &mut first, key);
                    buf.extend_from_slice(b"null");
                }
                None => {}
            },
            Fld::Segments => {
                if let Some(segs) = &co.segments {
                    push_key(buf, &mut first, key);
                    buf.push(b'[');
                    for (i, (name, rev)) in segs.iter().enumerate() {
                        if i > 0 {
                            buf.push(b',');
                        }
                        buf.extend_from_slice(b"{\"name\":");
                        push_str(buf, name);
                        buf.extend_from_slice(b",\"revenue\":");
                        push_int(buf, *rev);
                        buf.push(b'}');
                    }
                    buf.push(b']');
                }
            }
            Fld::Owners => {
                if !co.owners.is_empty() || co.owners_empty_array {
                    push_key(buf, &mut first, key);
                    buf.push(b'[');
                    for (i, (id, stake)) in co.owners.iter().enumerate() {
                        if i > 0 {
                            buf.push(b',');
                        }
                        buf.extend_from_slice(b"{\"id\":");
                        push_str(buf, id);
                        buf.extend_from_slice(b",\"stake\":");
                        push_milli(buf, *stake);
                        buf.push(b'}');
                    }
                    buf.push(b']');
                }
            }
            Fld::Behaviour => {
                if let Some(b) = co.behaviour {
                    push_key(buf, &mut first, key);
                    push_str(buf, b);
                }
            }
            Fld::Flags => {
                if let Some(flags) = &co.flags {
                    push_key(buf, &mut first, key);
                    buf.push(b'[');
                    for (i, fl) in flags.iter().enumerate() {
                        if i > 0 {
                            buf.push(b',');
                        }
                        push_str(buf, fl);
                    }
                    buf.push(b']');
                }
            }
        }
    }
    match co.extra {
        1 => {
            push_key(buf, &mut first, "website");
            buf.extend_from_slice(b"\"https://");
            buf.extend_from_slice(co.id.as_bytes());
            buf.extend_from_slice(b".example\"");
        }
        2 => {
            push_key(buf, &mut first, "source");
            buf.extend_from_slice(b"{\"generator\":\"gen_corpus\",\"batch\":");
            push_int(buf, co.founded % 97);
            buf.extend_from_slice(b",\"reviewed\":false}");
        }
        3 => {
            push_key(buf, &mut first, "tags");
            buf.extend_from_slice(b"[\"synthetic\",\"");
            buf.extend_from_slice(co.currency.as_bytes());
            buf.extend_from_slice(b"\"]");
        }
        4 => {
            push_key(buf, &mut first, "notes");
            buf.extend_from_slice(b"null");
        }
        _ => {}
    }
    for (k, raw) in &p.post {
        push_key(buf, &mut first, k);
        buf.extend_from_slice(raw.as_bytes());
    }
    buf.push(b'}');
}
