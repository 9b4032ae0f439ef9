//! Skill files → the typed rule IR.
//!
//! `compile` reads every file, builds the schema from ```entity blocks and
//! the lookup tables from ```table blocks, then resolves, type-checks and
//! classifies every ```rule block. It never stops at the first problem:
//! it returns the program built from the good rules plus every diagnostic.

pub mod expr;
pub mod lower;
pub mod schema;
mod values;

use crate::diagnostic::{Code, Diagnostic};
use crate::skill::{self, BlockKind, SkillFile};
use crate::source::{FileId, SourceDb, Span};
use crate::syntax;
use expr::{Expr, Ty, VarId};
use schema::{EntityId, FieldId, Schema};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Reject,
    Flag,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Checked once per entity (a company).
    Entity,
    /// Checked once over the whole dataset.
    Dataset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Field,
    CrossField,
    CrossEntity,
    Plausibility,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Reject => "reject",
            Severity::Flag => "flag",
        }
    }
}
impl Scope {
    pub fn as_str(self, schema: &Schema, entity: EntityId) -> String {
        match self {
            Scope::Entity => schema.entity(entity).name.clone(),
            Scope::Dataset => "dataset".into(),
        }
    }
}
impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Field => "field",
            Kind::CrossField => "cross-field",
            Kind::CrossEntity => "cross-entity",
            Kind::Plausibility => "plausibility",
        }
    }
}

/// A lookup table declared in a ```table block.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub span: Span,
    /// The type of its values.
    pub ty: Ty,
    pub entries: Vec<(String, TableValue)>,
}

#[derive(Clone, Debug)]
pub enum TableValue {
    Number(f64),
    String(String),
    Bool(bool),
    Regex(expr::RegexId),
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub skill: String,
    pub file: FileId,
    /// The id in the fence line: what "the rule's location" points at.
    pub span: Span,
    pub message: String,
    pub severity: Severity,
    pub scope: Scope,
    pub kind: Kind,
    pub entity: EntityId,
    pub lets: Vec<(VarId, Expr)>,
    pub expr: Expr,
    pub var_count: u32,
    pub var_names: Vec<String>,
    /// Fields of the checked entity the rule reads: when one failed the
    /// schema, the rule does not apply.
    pub own_fields: Vec<FieldId>,
    /// Fields a dataset rule reads from the elements it iterates: an
    /// element whose such field failed the schema is not counted.
    pub element_fields: Vec<FieldId>,
    /// Needs other entities (relations, graphs, keys): runs after loading.
    pub needs_dataset: bool,
}

/// Everything `check` needs, and the sources the diagnostics point into.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub db: SourceDb,
    pub schema: Schema,
    pub tables: Vec<Table>,
    pub regexes: Vec<(String, Span)>,
    pub rules: Vec<Rule>,
    /// The well-formed ```jsonl example blocks, in file order; run by
    /// [`crate::examples`], never by `check`.
    pub examples: Vec<Example>,
    /// The warnings each file turns off (`metadata: skillc-allow`), for the
    /// passes after compiling (the rule analysis).
    pub allowed: Vec<(FileId, Vec<crate::diagnostic::Code>)>,
}

/// A rule an example names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExampleRule {
    /// The built-in `schema` check.
    Schema,
    /// A compiled rule, by index into `Program::rules`.
    Rule(usize),
}

/// An example block: companies (one JSON object a line) that must pass, or
/// fail the named rules. Its lines form one small dataset.
#[derive(Clone, Debug)]
pub struct Example {
    pub file: FileId,
    /// The whole block, fences included.
    pub span: Span,
    pub verdict: skill::ExampleVerdict,
    /// The `pass`, `fail` or `flag` word of the info string.
    pub verdict_span: Span,
    /// The rules of the info string, resolved, with the spans of their ids.
    pub rules: Vec<(ExampleRule, Span)>,
    /// The non-blank lines, each a JSON object, with their spans.
    pub lines: Vec<(Span, String)>,
}

impl Program {
    /// The entity a dataset holds: the one that rules apply to.
    pub fn dataset_entity(&self) -> Option<EntityId> {
        self.rules.first().map(|r| r.entity).or_else(|| (!self.schema.entities.is_empty()).then_some(EntityId(0)))
    }
}

fn rule_id_ok(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Compiles the given files of `db`.
pub fn compile(db: SourceDb, files: &[FileId]) -> (Program, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let skills: Vec<SkillFile> = files.iter().map(|&f| skill::read(&db, f, &mut diags)).collect();

    // 1. The schema, from every ```entity block.
    let mut entity_blocks = Vec::new();
    for s in &skills {
        for block in &s.blocks {
            if let BlockKind::Entity { name, modifier } = &block.kind {
                let Some((name, name_span)) = name else {
                    diags.push(Diagnostic::error(
                        Code::EntityInvalid,
                        block.span,
                        "an ```entity block needs a name, like ```entity company",
                    ));
                    continue;
                };
                let extend = match modifier {
                    None => false,
                    Some((word, _)) if word == "extend" => true,
                    Some((word, span)) => {
                        let d = Diagnostic::error(Code::EntityInvalid, *span, format!("unexpected `{word}` after the entity name"));
                        let help = if name == "extend" {
                            format!("the entity's name comes first: ```entity {word} extend")
                        } else {
                            crate::diagnostic::did_you_mean(word, ["extend"]).unwrap_or_else(|| {
                                format!("write ```entity {name} to declare the entity, or ```entity {name} extend to add fields to it")
                            })
                        };
                        diags.push(d.with_help(help));
                        continue;
                    }
                };
                match syntax::parse_entity(block) {
                    Ok(items) => entity_blocks.push(schema::EntityBlock {
                        name: name.clone(),
                        name_span: *name_span,
                        span: block.span,
                        items,
                        extend,
                    }),
                    Err(d) => diags.push(*d),
                }
            }
        }
    }
    let schema = schema::build(entity_blocks, &mut diags);

    // 2. Lookup tables.
    let mut regexes = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    for s in &skills {
        for block in &s.blocks {
            if let BlockKind::Table { name } = &block.kind {
                let Some((name, name_span)) = name else {
                    diags.push(Diagnostic::error(
                        Code::TableInvalid,
                        block.span,
                        "a ```table block needs a name, like ```table ticker_pattern",
                    ));
                    continue;
                };
                if let Some(first) = tables.iter().find(|t| &t.name == name) {
                    diags.push(
                        Diagnostic::error(Code::TableDuplicate, *name_span, format!("table `{name}` is declared twice"))
                            .with_secondary(first.span, "first declared here"),
                    );
                    continue;
                }
                match syntax::parse_table(block) {
                    Ok(entries) => {
                        if let Some(t) = table(name, *name_span, entries, &mut regexes, &mut diags) {
                            tables.push(t);
                        }
                    }
                    Err(d) => diags.push(*d),
                }
            }
        }
    }

    // A table named like a field or a collection is hidden by it.
    for t in &tables {
        let field_of = schema.entities.iter().find(|e| e.fields.iter().any(|f| f.name == t.name));
        let collection = schema.entities.iter().any(|e| e.collection.as_deref() == Some(t.name.as_str()) || e.name == t.name);
        let message = match (field_of, collection) {
            (Some(e), _) => format!("table `{}` has the name of a field of `{}`; rules about `{}` read the field", t.name, e.name, e.name),
            (None, true) => format!("table `{}` has the name of a collection, which rules can no longer reach", t.name),
            (None, false) => continue,
        };
        diags.push(Diagnostic::warning(Code::NameConflict, t.span, message).with_help("rename the table"));
    }

    // 3. Rules.
    let mut rules: Vec<Rule> = Vec::new();
    let mut seen: HashMap<String, Span> = HashMap::new();
    for s in &skills {
        let skill_name = s.frontmatter.name.clone().unwrap_or_else(|| db.get(s.file).name.clone());
        let rule_blocks: Vec<_> = s.blocks.iter().filter(|b| matches!(b.kind, BlockKind::Rule { .. })).collect();
        let entity = match &s.frontmatter.applies_to {
            Some((name, span)) => match schema.entity_by_name(name) {
                Some(e) => Some(e),
                None => {
                    let mut d = Diagnostic::error(
                        Code::AppliesToInvalid,
                        *span,
                        format!("`applies_to` names `{name}`, which no ```entity block declares"),
                    );
                    if let Some(h) = crate::diagnostic::did_you_mean(name, schema.entities.iter().map(|e| e.name.as_str())) {
                        d = d.with_help(h);
                    }
                    diags.push(d);
                    None
                }
            },
            None => {
                if let Some(first) = rule_blocks.first() {
                    let span = s.frontmatter.span.unwrap_or(first.span);
                    let mut d = Diagnostic::error(Code::AppliesToMissing, span, "this skill has rules but no `applies_to`");
                    if let [only] = schema.entities.as_slice() {
                        d = d.with_help(format!("add `applies_to: {}` to the frontmatter", only.name));
                    }
                    diags.push(d);
                }
                None
            }
        };
        let compiled_blocks = s.blocks.iter().filter(|b| !matches!(b.kind, BlockKind::Example { .. })).count();
        if let (Some((_, span)), 0) = (&s.frontmatter.applies_to, compiled_blocks) {
            diags.push(Diagnostic::warning(
                Code::NoRules,
                *span,
                "this skill has `applies_to` but no ```rule, ```entity or ```table blocks",
            ));
        }
        for block in rule_blocks {
            let BlockKind::Rule { id } = &block.kind else { continue };
            let Some((id, id_span)) = id.clone() else {
                diags.push(
                    Diagnostic::error(Code::RuleMissingId, block.span_of(0..0).to(block.span), "this ```rule block has no id")
                        .with_help("write the id after `rule`, like ```rule gross-margin-range"),
                );
                continue;
            };
            if !rule_id_ok(&id) {
                diags.push(
                    Diagnostic::error(Code::RuleIdInvalid, id_span, format!("invalid rule id `{id}`"))
                        .with_help("use lower-case letters, digits and hyphens, like `gross-margin-range`"),
                );
            } else if id == "json" || id == "schema" {
                diags.push(Diagnostic::error(
                    Code::RuleIdReserved,
                    id_span,
                    format!("`{id}` is reserved for skillc's built-in input checks"),
                ));
            }
            if let Some(first) = seen.get(&id) {
                diags.push(
                    Diagnostic::error(Code::DuplicateRuleId, id_span, format!("rule id `{id}` is used twice"))
                        .with_secondary(*first, "first defined here")
                        .with_help("rename one of the rules; ids are unique across all skills"),
                );
                continue;
            }
            seen.insert(id.clone(), id_span);
            if block.message.is_empty() {
                diags.push(
                    Diagnostic::warning(Code::MissingMessage, id_span, format!("rule `{id}` has no prose to quote back"))
                        .with_help("put the rule in a list item, or after a paragraph, that says what a plausible value looks like"),
                );
            }
            let body = match syntax::parse_rule(block) {
                Ok(body) => body,
                Err(d) => {
                    diags.push(*d);
                    continue;
                }
            };
            let Some(entity) = entity else { continue };
            let mut lowerer = lower::Lowerer::new(&schema, &tables, &mut regexes, Some(entity));
            let (lets, expr) = lowerer.lower_body(&body);
            if !expr.ty.is_error() && expr.ty != Ty::Bool {
                lowerer.diags.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        expr.span,
                        format!("a rule must be a condition, but this is {}", expr.ty.describe()),
                    )
                    .with_help("compare it with something, like `x > 0`"),
                );
            }
            let reads = lowerer.reads.clone();
            let var_count = lowerer.var_count;
            let var_names = std::mem::take(&mut lowerer.var_names);
            let failed = lowerer.diags.iter().any(Diagnostic::is_error);
            diags.append(&mut lowerer.diags);
            warn_constant(&expr, &mut diags);
            if failed {
                continue;
            }
            let severity = if block.plausibility { Severity::Flag } else { Severity::Reject };
            let dataset = reads.whole_dataset;
            // A field, a relation or `in_cycle` of "the" entity: a dataset
            // rule has none.
            if let (true, Some(own)) = (dataset, reads.own_span) {
                let what = if reads.own_fields.is_empty() { "the relations of one entity" } else { "a field of one entity" };
                let mut d = Diagnostic::error(Code::ScopeMix, own, format!("rule `{id}` reads {what} and also iterates the whole dataset"));
                if let Some(s) = reads.whole_dataset_span {
                    d = d.with_secondary(s, "the whole dataset");
                }
                diags.push(d.with_help("split it: one rule about each entity, one about the dataset"));
                continue;
            }
            let scope = if dataset { Scope::Dataset } else { Scope::Entity };
            let kind = if severity == Severity::Flag {
                Kind::Plausibility
            } else if reads.other_entities || dataset {
                Kind::CrossEntity
            } else if reads.own_fields.len() >= 2 {
                Kind::CrossField
            } else {
                Kind::Field
            };
            rules.push(Rule {
                id,
                skill: skill_name.clone(),
                file: s.file,
                span: id_span,
                message: block.message.clone(),
                severity,
                scope,
                kind,
                entity,
                lets,
                expr,
                var_count,
                var_names,
                own_fields: reads.own_fields.iter().copied().collect(),
                element_fields: reads.element_fields.iter().copied().collect(),
                needs_dataset: reads.other_entities || dataset,
            });
        }
    }
    // 4. Examples: kept when their info string and every line are well
    // formed (`skill::read` reported the others) and their rules resolve.
    // An id that does not resolve is reported only when the rest of its
    // file compiled: a rule that failed (a duplicate id, say) would
    // otherwise draw a second error at each of its examples.
    let failed_files: Vec<FileId> =
        diags.iter().filter(|d| d.is_error() && d.code != Code::ExampleInvalid).map(|d| d.primary.span.file).collect();
    let mut examples = Vec::new();
    for s in &skills {
        for block in &s.blocks {
            let BlockKind::Example { expectation: Ok(e) } = &block.kind else { continue };
            let lines = block.lines();
            if lines.is_empty() || lines.iter().any(|(_, l)| skill::not_a_json_object(l).is_some()) {
                continue;
            }
            let mut found = Vec::new();
            let resolved = resolve_example(e, &rules, &seen, &mut found);
            if !failed_files.contains(&s.file) {
                diags.append(&mut found);
            }
            let Some(named) = resolved else { continue };
            examples.push(Example {
                file: s.file,
                span: block.span,
                verdict: e.verdict,
                verdict_span: e.verdict_span,
                rules: named,
                lines: lines.into_iter().map(|(span, l)| (span, l.to_string())).collect(),
            });
        }
    }
    values::check(&db, &schema, &tables, &rules, &mut diags);
    warn_untested(&skills, &rules, &mut diags);
    allow(&skills, &mut diags);
    let allowed = skills.iter().filter(|s| !s.frontmatter.allow.is_empty()).map(|s| (s.file, s.frontmatter.allow.clone())).collect();
    crate::diagnostic::sort(&mut diags);
    (Program { db, schema, tables, regexes, rules, examples, allowed }, diags)
}

/// `rule-without-examples`: a compiled rule that no example block names.
fn warn_untested(skills: &[SkillFile], rules: &[Rule], diags: &mut Vec<Diagnostic>) {
    let named: std::collections::HashSet<&str> = skills
        .iter()
        .flat_map(|s| &s.blocks)
        .filter_map(|b| if let BlockKind::Example { expectation: Ok(e) } = &b.kind { Some(&e.rules) } else { None })
        .flatten()
        .map(|(id, _)| id.as_str())
        .collect();
    for rule in rules.iter().filter(|r| !named.contains(r.id.as_str())) {
        diags.push(
            Diagnostic::warning(Code::RuleWithoutExamples, rule.span, format!("no example names rule `{}`", rule.id))
                .with_help(format!(
                    "add ```jsonl example pass {0} and ```jsonl example fail {0} blocks with companies it accepts and rejects",
                    rule.id
                ))
                .with_help("or turn the warning off for this file: `skillc-allow: rule-without-examples` under `metadata`"),
        );
    }
}

/// Drops the warnings a file turns off with `metadata: skillc-allow`.
fn allow(skills: &[SkillFile], diags: &mut Vec<Diagnostic>) {
    if skills.iter().all(|s| s.frontmatter.allow.is_empty()) {
        return;
    }
    diags.retain(|d| d.is_error() || !skills.iter().any(|s| s.file == d.primary.span.file && s.frontmatter.allow.contains(&d.code)));
}

/// Resolves the rule ids an example names and checks that its verdict fits
/// them; `None` when it does not (after reporting why, unless a named rule
/// was declared but failed to compile: its own error says enough).
fn resolve_example(
    e: &skill::Expectation,
    rules: &[Rule],
    declared: &HashMap<String, Span>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<(ExampleRule, Span)>> {
    let mut named = Vec::new();
    let mut ok = true;
    for (id, span) in &e.rules {
        if id == "schema" {
            named.push((ExampleRule::Schema, *span));
        } else if let Some(i) = rules.iter().position(|r| r.id == *id) {
            named.push((ExampleRule::Rule(i), *span));
        } else {
            ok = false;
            if declared.contains_key(id) {
                continue;
            }
            let mut d = Diagnostic::error(Code::ExampleInvalid, *span, format!("this example names `{id}`, which is not a rule"));
            if let Some(h) = crate::diagnostic::did_you_mean(id, declared.keys().map(String::as_str).chain(["schema"])) {
                d = d.with_help(h);
            }
            diags.push(d);
        }
    }
    if !ok {
        return None;
    }
    let rejects = |n: &ExampleRule| match n {
        ExampleRule::Schema => true,
        ExampleRule::Rule(i) => rules[*i].severity == Severity::Reject,
    };
    match e.verdict {
        skill::ExampleVerdict::Pass => {}
        skill::ExampleVerdict::Fail if !named.iter().any(|(n, _)| rejects(n)) => {
            diags.push(
                Diagnostic::error(
                    Code::ExampleInvalid,
                    e.verdict_span,
                    "every rule this example names flags (it is under a `Plausibility` heading), so its companies are kept, not rejected",
                )
                .with_help("write `flag` instead of `fail`"),
            );
            return None;
        }
        skill::ExampleVerdict::Fail => {}
        skill::ExampleVerdict::Flag => {
            if let Some((n, span)) = named.iter().find(|(n, _)| rejects(n)) {
                let id = match n {
                    ExampleRule::Schema => "schema",
                    ExampleRule::Rule(i) => rules[*i].id.as_str(),
                };
                diags.push(
                    Diagnostic::error(
                        Code::ExampleInvalid,
                        *span,
                        format!("`{id}` rejects, so a company that breaks it is rejected, not flagged"),
                    )
                    .with_help("write `fail` instead of `flag`"),
                );
                return None;
            }
        }
    }
    Some(named)
}

fn table(
    name: &str,
    span: Span,
    entries: Vec<syntax::ast::TableEntry>,
    regexes: &mut Vec<(String, Span)>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Table> {
    use syntax::ast::ExprKind as A;
    let mut out: Vec<(String, TableValue)> = Vec::new();
    let mut ty: Option<Ty> = None;
    // Keys seen so far. A scan of `out` per entry made a 100,000-entry table
    // take 44 s to compile (tests/hostile_skills.rs
    // `a_table_of_100k_entries_compiles_in_linear_time`).
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for entry in entries {
        if seen.contains(&entry.key.text) {
            diags.push(Diagnostic::error(
                Code::TableDuplicate,
                entry.key.span,
                format!("key `{}` appears twice in table `{name}`", entry.key.text),
            ));
            continue;
        }
        let (value, value_ty) = match &entry.value.kind {
            A::Number { value, .. } => (TableValue::Number(*value), Ty::Number),
            A::Str(s) => (TableValue::String(s.clone()), Ty::String),
            A::Bool(b) => (TableValue::Bool(*b), Ty::Bool),
            A::Regex(r) => {
                if let Err(e) = regex::Regex::new(&format!("^(?:{r})$")) {
                    let why = e.to_string();
                    let line = why.lines().last().unwrap_or("").trim().to_string();
                    diags.push(Diagnostic::error(Code::InvalidRegex, entry.value.span, format!("invalid regular expression: {line}")));
                }
                regexes.push((r.clone(), entry.value.span));
                (TableValue::Regex(expr::RegexId(regexes.len() as u32 - 1)), Ty::Regex)
            }
            _ => continue,
        };
        match &ty {
            Some(t) if *t != value_ty => {
                diags.push(Diagnostic::error(
                    Code::TableInvalid,
                    entry.value.span,
                    format!("table `{name}` holds {}, but this is {}", t.describe(), value_ty.describe()),
                ));
                continue;
            }
            _ => ty = Some(value_ty),
        }
        seen.insert(entry.key.text.clone());
        out.push((entry.key.text, value));
    }
    let Some(ty) = ty else {
        diags.push(Diagnostic::error(Code::TableInvalid, span, format!("table `{name}` is empty")));
        return None;
    };
    Some(Table { name: name.to_string(), span, ty, entries: out })
}

/// Warns about conditions that are constant: a rule that can never hold, an
/// `if` whose condition can never hold.
fn warn_constant(e: &Expr, diags: &mut Vec<Diagnostic>) {
    use expr::ExprKind as K;
    match &e.kind {
        K::Bool(false) => diags.push(Diagnostic::warning(Code::NeverHolds, e.span, "this condition is always false")),
        K::If(c, _, _) | K::Implies(c, _) if matches!(c.kind, K::Bool(false)) => {
            diags.push(Diagnostic::warning(Code::NeverApplies, c.span, "this condition is always false, so the rule never applies"))
        }
        K::And(a, b) => {
            warn_constant(a, diags);
            warn_constant(b, diags);
        }
        _ => {}
    }
}
