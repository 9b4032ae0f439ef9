//! What is at a byte offset of a compiled skill file: the rule, field,
//! relation or table under the cursor, and the names that can be typed
//! there. Byte offsets and [`Span`]s in, plain data and Markdown out; the
//! protocol layer (`mod.rs`) converts them.

use crate::ir::expr::{Access, Expr, ExprKind, Pattern, Ty};
use crate::ir::lower::{Lowerer, FUNCTIONS};
use crate::ir::schema::{EntityId, Field, FieldType, RelationKind};
use crate::ir::Program;
use crate::skill::{self, Block, BlockKind, SkillFile};
use crate::source::{FileId, Span};
use crate::syntax;

/// Something a name in a rule refers to.
#[derive(Clone, Debug)]
enum Target {
    /// A field: its declaration and what it is a field of ("entity `company`").
    Field(Field, String),
    Relation(usize),
    Table(usize),
    Collection(EntityId),
    Graph(usize),
}

/// Hover text (Markdown) and the span it describes.
#[derive(Clone, Debug, PartialEq)]
pub struct HoverInfo {
    pub markdown: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Field,
    Relation,
    Table,
    Collection,
    Function,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: String,
}

/// A skill file re-read from the program's sources, and the entity its
/// rules are about.
struct Context<'a> {
    program: &'a Program,
    skill: SkillFile,
    entity: Option<EntityId>,
}

impl<'a> Context<'a> {
    fn new(program: &'a Program, file: FileId) -> Context<'a> {
        let skill = skill::read(&program.db, file, &mut Vec::new());
        let schema = &program.schema;
        let entity = match &skill.frontmatter.applies_to {
            Some((name, _)) => schema.entity_by_name(name),
            None if schema.entities.len() == 1 => Some(EntityId(0)),
            None => None,
        };
        Context { program, skill, entity }
    }

    fn text(&self) -> &'a str {
        &self.program.db.get(self.skill.file).text
    }

    fn block_at(&self, offset: usize) -> Option<&Block> {
        self.skill.blocks.iter().find(|b| (b.span.start as usize..=b.span.end as usize).contains(&offset))
    }

    /// The rule block's lets and condition, lowered again against the
    /// program's schema and tables (also when the rule did not compile).
    fn lower(&self, block: &Block) -> Option<Vec<Expr>> {
        let body = syntax::parse_rule(block).ok()?;
        let mut regexes = Vec::new();
        let mut lowerer = Lowerer::new(&self.program.schema, &self.program.tables, &mut regexes, self.entity);
        let mut exprs = Vec::new();
        for l in &body.lets {
            let value = lowerer.lower(&l.value);
            lowerer.bind_let(&l.name, &value);
            exprs.push(value);
        }
        exprs.push(lowerer.lower(&body.expr));
        Some(exprs)
    }

    fn describe(&self, target: &Target) -> String {
        let schema = &self.program.schema;
        let db = &self.program.db;
        let at = |span: Span| {
            let (line, _) = db.position(span);
            format!("`{}:{line}`", db.get(span.file).name)
        };
        match target {
            Target::Field(field, of) => format!(
                "**field** `{}`: `{}` ({})\n\nof {of}, declared at {}",
                field.name,
                type_text(&field.ty),
                if field.optional { "optional: may be absent or null" } else { "required" },
                at(field.span)
            ),
            Target::Relation(i) => {
                let r = &schema.relations[*i];
                let how = match &r.kind {
                    RelationKind::Forward { .. } => String::new(),
                    RelationKind::Inverse(of) => format!(", the inverse of `{}`", schema.relation(*of).name),
                };
                let target = schema.entity(schema.relation_target(crate::ir::schema::RelationId(*i as u32)));
                format!(
                    "**relation** `{}` of `{}` → `{}`{how}\n\ndeclared at {}",
                    r.name,
                    schema.entity(r.entity).name,
                    target.name,
                    at(r.span)
                )
            }
            Target::Table(i) => {
                let t = &self.program.tables[*i];
                format!(
                    "**table** `{}` of {} ({} entries)\n\ndeclared at {}",
                    t.name,
                    plural(&t.ty.describe()),
                    t.entries.len(),
                    at(t.span)
                )
            }
            Target::Collection(e) => {
                let e = schema.entity(*e);
                format!("**collection**: every `{}` of the dataset\n\ndeclared at {}", e.name, at(e.span))
            }
            Target::Graph(i) => {
                let g = &schema.graphs[*i];
                format!("**graph** `{}` of the edges of `{}`\n\ndeclared at {}", g.name, schema.relation(g.relation).name, at(g.span))
            }
        }
    }

    fn declaration(&self, target: &Target) -> Span {
        let schema = &self.program.schema;
        match target {
            Target::Field(field, _) => field.span,
            Target::Relation(i) => schema.relations[*i].span,
            Target::Table(i) => self.program.tables[*i].span,
            Target::Collection(e) => schema.entity(*e).span,
            Target::Graph(i) => schema.graphs[*i].span,
        }
    }

    /// The name under the cursor inside a rule block, and what it refers to.
    ///
    /// Every node of a postfix chain `a.b.c` spans the whole chain, so the
    /// node of the name under the cursor is found from the outermost node of
    /// the chain, one base down for each `.name` after the cursor.
    fn target_at(&self, block: &Block, offset: usize) -> Option<(Target, Span)> {
        let text = self.text();
        let word = word_at(text, offset)?;
        let span = Span::new(block.file, word.start, word.end);
        let (chain, after) = chain_around(text, word.clone());
        if let Some(exprs) = self.lower(block) {
            let mut outermost = None;
            for e in &exprs {
                visit(e, &mut |node| {
                    if outermost.is_none() && node.span.range() == chain {
                        outermost = Some(node.clone());
                    }
                });
            }
            if let Some(mut node) = outermost {
                for _ in 0..after {
                    node = match node.kind {
                        ExprKind::Get(base, _) | ExprKind::Project(base, _) | ExprKind::Relation(_, base) => *base,
                        _ => return None,
                    };
                }
                return match self.resolve(&node) {
                    Some(t) => Some((t, span)),
                    // A variable, or the first name of the chain.
                    None if matches!(node.kind, ExprKind::Var(_)) => None,
                    None => self.lookup(&text[word]).map(|t| (t, span)),
                };
            }
        }
        // The rule does not parse (yet), or names it in a function's
        // argument (`unique(id)`): look the word up as a name of the skill.
        if chain.start < word.start {
            return None;
        }
        self.lookup(&text[word]).map(|t| (t, span))
    }

    /// What a name means at the top level of a rule of this skill.
    fn lookup(&self, name: &str) -> Option<Target> {
        let schema = &self.program.schema;
        if let Some(e) = self.entity {
            if let Some(f) = schema.field_by_name(e, name) {
                return Some(Target::Field(schema.field(e, f).clone(), format!("entity `{}`", schema.entity(e).name)));
            }
            if let Some(r) = schema.relation_by_name(e, name) {
                return Some(Target::Relation(r.0 as usize));
            }
        }
        if let Some(i) = self.program.tables.iter().position(|t| t.name == name) {
            return Some(Target::Table(i));
        }
        if let Some(i) = schema.entities.iter().position(|e| e.name == name || e.collection.as_deref() == Some(name)) {
            return Some(Target::Collection(EntityId(i as u32)));
        }
        schema.graph_by_name(name).map(|g| Target::Graph(g.0 as usize))
    }

    /// What a lowered node names, when it names a declaration.
    fn resolve(&self, node: &Expr) -> Option<Target> {
        let schema = &self.program.schema;
        let entity_field = |e: EntityId, f: crate::ir::schema::FieldId| {
            Target::Field(schema.field(e, f).clone(), format!("entity `{}`", schema.entity(e).name))
        };
        let access = |base_ty: &Ty, access: Access| -> Option<Target> {
            match (base_ty, access) {
                (Ty::Entity(e), Access::Entity(f)) => Some(entity_field(*e, f)),
                (Ty::Edge(r), Access::Entity(f)) => Some(entity_field(schema.relation_target(*r), f)),
                (Ty::Object(fields), Access::Object(i)) => fields.get(i).map(|f| Target::Field(f.clone(), "the list element".to_string())),
                (Ty::Edge(r), Access::Edge(i)) => schema
                    .edge_fields(*r)
                    .into_iter()
                    .find(|(n, _)| *n == i)
                    .map(|(_, f)| Target::Field(f.clone(), format!("the edges of `{}`", schema.relation(*r).name))),
                _ => None,
            }
        };
        match &node.kind {
            ExprKind::SelfField(f) => self.entity.map(|e| entity_field(e, *f)),
            ExprKind::Get(base, a) => access(&base.ty, *a),
            ExprKind::Project(base, a) => match &base.ty {
                Ty::List(elem) => access(elem, *a),
                _ => None,
            },
            ExprKind::Relation(r, _) => Some(Target::Relation(r.0 as usize)),
            ExprKind::Collection(e) => Some(Target::Collection(*e)),
            ExprKind::Null => match &node.ty {
                Ty::Table(t) => Some(Target::Table(t.0 as usize)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Hover: on a field, relation, table or collection inside a rule block,
/// what it is and where it is declared; elsewhere in a rule block (its
/// fence line included), the rule.
pub fn hover(program: &Program, file: FileId, offset: usize) -> Option<HoverInfo> {
    let cx = Context::new(program, file);
    let block = cx.block_at(offset)?;
    let BlockKind::Rule { id } = &block.kind else { return None };
    if let Some((target, span)) = cx.target_at(block, offset) {
        return Some(HoverInfo { markdown: cx.describe(&target), span });
    }
    let (id, id_span) = id.clone()?;
    Some(HoverInfo { markdown: rule_markdown(&cx, block, &id, id_span), span: id_span })
}

fn rule_markdown(cx: &Context, block: &Block, id: &str, id_span: Span) -> String {
    let program = cx.program;
    let mut out = String::new();
    match program.rules.iter().find(|r| r.span == id_span) {
        Some(rule) => {
            out.push_str(&format!(
                "**rule** `{id}`\n\n| kind | severity | scope |\n|---|---|---|\n| {} | {} | {} |\n",
                rule.kind.as_str(),
                rule.severity.as_str(),
                rule.scope.as_str(&program.schema, rule.entity)
            ));
            if !rule.own_fields.is_empty() {
                let fields: Vec<String> =
                    rule.own_fields.iter().map(|f| format!("`{}`", program.schema.field(rule.entity, *f).name)).collect();
                out.push_str(&format!("\nreads {}\n", fields.join(", ")));
            }
        }
        None => out.push_str(&format!("**rule** `{id}` (not compiled: see its diagnostics)\n")),
    }
    if block.message.is_empty() {
        out.push_str("\nno message: the rule has no prose around it\n");
    } else {
        out.push_str(&format!("\n> {}\n", block.message));
    }
    if let Ok(body) = syntax::parse_rule(block) {
        out.push_str(&format!("\n```text\n{body}\n```\n"));
    }
    out
}

/// Go to definition: the declaration of the field, relation, table,
/// collection or graph named under the cursor in a rule block.
pub fn definition(program: &Program, file: FileId, offset: usize) -> Option<Span> {
    let cx = Context::new(program, file);
    let block = cx.block_at(offset)?;
    if !matches!(block.kind, BlockKind::Rule { .. }) {
        return None;
    }
    cx.target_at(block, offset).map(|(t, _)| cx.declaration(&t))
}

/// Completion inside a rule block: after `x.`, the fields (and relations)
/// of what `x` is; elsewhere the entity's fields and relations, the
/// tables, the collections and the built-in functions.
pub fn completions(program: &Program, file: FileId, offset: usize) -> Vec<Completion> {
    let cx = Context::new(program, file);
    let Some(block) = cx.block_at(offset) else { return Vec::new() };
    if !matches!(block.kind, BlockKind::Rule { .. }) || !inside_content(cx.text(), block, offset) {
        return Vec::new();
    }
    let text = cx.text();
    let start = ident_start(text, offset);
    let before = text[..start].trim_end_matches([' ', '\t']);
    if let Some(base) = before.strip_suffix('.') {
        let chain = member_chain(base);
        let content_before = &text[block.span.start as usize..start];
        return match members_of_chain(&cx, &chain, content_before) {
            Some(m) => m.completions(&cx),
            None => Vec::new(),
        };
    }
    let schema = &program.schema;
    let mut out = Vec::new();
    if let Some(e) = cx.entity {
        out.extend(Members::entity(e).completions(&cx));
    }
    for t in &program.tables {
        out.push(Completion {
            label: t.name.clone(),
            kind: CompletionKind::Table,
            detail: format!("table of {}", plural(&t.ty.describe())),
        });
    }
    for e in &schema.entities {
        for name in e.collection.iter().chain(std::iter::once(&e.name)) {
            out.push(Completion {
                label: name.clone(),
                kind: CompletionKind::Collection,
                detail: format!("every `{}` of the dataset", e.name),
            });
        }
    }
    for f in FUNCTIONS {
        out.push(Completion { label: f.to_string(), kind: CompletionKind::Function, detail: function_detail(f).to_string() });
    }
    out
}

/// The names reachable with `.` from a value.
#[derive(Default)]
struct Members {
    /// Fields of a list element or of an edge.
    fields: Vec<Field>,
    /// An entity: its fields and relations.
    relations_of: Option<EntityId>,
}

impl Members {
    fn entity(e: EntityId) -> Members {
        Members { fields: Vec::new(), relations_of: Some(e) }
    }
    fn all_fields(&self, cx: &Context) -> Vec<Field> {
        let mut out = self.fields.clone();
        if let Some(e) = self.relations_of {
            out.extend(cx.program.schema.entity(e).fields.iter().cloned());
        }
        out
    }
    fn completions(&self, cx: &Context) -> Vec<Completion> {
        let schema = &cx.program.schema;
        let mut out: Vec<Completion> = self
            .all_fields(cx)
            .into_iter()
            .map(|f| Completion {
                label: f.name.clone(),
                kind: CompletionKind::Field,
                detail: format!("{}{}", type_text(&f.ty), if f.optional { "?" } else { "" }),
            })
            .collect();
        if let Some(e) = self.relations_of {
            for (i, r) in schema.relations.iter().enumerate().filter(|(_, r)| r.entity == e) {
                let target = schema.entity(schema.relation_target(crate::ir::schema::RelationId(i as u32)));
                out.push(Completion {
                    label: r.name.clone(),
                    kind: CompletionKind::Relation,
                    detail: format!("relation → {}", target.name),
                });
            }
        }
        out
    }
    fn member(&self, cx: &Context, name: &str) -> Option<Members> {
        if let Some(f) = self.all_fields(cx).into_iter().find(|f| f.name == name) {
            return Some(Members::of_type(&f.ty));
        }
        let e = self.relations_of?;
        let schema = &cx.program.schema;
        let r = schema.relation_by_name(e, name)?;
        Some(Members::relation(cx, r))
    }
    fn of_type(ty: &FieldType) -> Members {
        match ty {
            FieldType::List(elem) => Members::of_type(elem),
            FieldType::Object(fields) => Members { fields: fields.clone(), relations_of: None },
            _ => Members::default(),
        }
    }
    /// The related records, and the edge's own fields.
    fn relation(cx: &Context, r: crate::ir::schema::RelationId) -> Members {
        let schema = &cx.program.schema;
        let fields = schema.edge_fields(r).into_iter().map(|(_, f)| f.clone()).collect();
        Members { fields, relations_of: Some(schema.relation_target(r)) }
    }
}

/// `a.b.c` before a `.`: the names, first to last.
fn member_chain(before: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = before;
    loop {
        let start = ident_start(rest, rest.len());
        if start == rest.len() {
            break;
        }
        names.push(rest[start..].to_string());
        match rest[..start].trim_end().strip_suffix('.') {
            Some(r) => rest = r.trim_end(),
            None => break,
        }
    }
    names.reverse();
    names
}

/// What a chain of names before a `.` holds: a field of the rule's
/// entity, a relation, a collection, or a variable bound earlier in the
/// block with `x in …` (or `x ∈ …`).
fn members_of_chain(cx: &Context, chain: &[String], block_before: &str) -> Option<Members> {
    let (first, rest) = chain.split_first()?;
    let mut members = first_members(cx, first, block_before, 0)?;
    for name in rest {
        members = members.member(cx, name)?;
    }
    Some(members)
}

fn first_members(cx: &Context, name: &str, block_before: &str, depth: usize) -> Option<Members> {
    if depth > 8 {
        return None;
    }
    if let Some(source) = binder_source(name, block_before) {
        let chain = member_chain(&source);
        let (first, rest) = chain.split_first()?;
        let mut members = first_members(cx, first, block_before, depth + 1)?;
        for n in rest {
            members = members.member(cx, n)?;
        }
        return Some(members);
    }
    let schema = &cx.program.schema;
    if let Some(e) = cx.entity {
        if let Some(m) = Members::entity(e).member(cx, name) {
            return Some(m);
        }
    }
    let e = schema.entities.iter().position(|e| e.name == name || e.collection.as_deref() == Some(name))?;
    Some(Members::entity(EntityId(e as u32)))
}

/// The source of the last `name in SOURCE` (or `∈`) binder before the
/// cursor, as text: `owners`, `c.parents`.
fn binder_source(name: &str, text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut found = None;
    let mut from = 0;
    while let Some(i) = text[from..].find(name).map(|i| i + from) {
        from = i + name.len();
        let before_ok = i == 0 || !is_ident(bytes[i - 1] as char);
        let after = &text[i + name.len()..];
        if !before_ok || after.starts_with(|c: char| is_ident(c)) {
            continue;
        }
        let after = after.trim_start();
        let rest = after.strip_prefix("in ").or_else(|| after.strip_prefix('∈'));
        if let Some(rest) = rest {
            let rest = rest.trim_start();
            let end = rest.find(|c: char| !(is_ident(c) || c == '.')).unwrap_or(rest.len());
            if end > 0 {
                found = Some(rest[..end].to_string());
            }
        }
    }
    found
}

/// The cursor is between the fence lines of the block.
fn inside_content(text: &str, block: &Block, offset: usize) -> bool {
    let start = block.span.start as usize;
    let first_line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let end = (block.span.end as usize).min(text.len());
    let last_line_start = text[..end].trim_end_matches(['\n', '\r']).rfind('\n').map_or(start, |i| i + 1);
    let last_line = text[last_line_start..end].trim_start();
    let closed = last_line_start > first_line_end && (last_line.starts_with("```") || last_line.starts_with("~~~"));
    offset > first_line_end && if closed { offset < last_line_start } else { offset <= end }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind(|c: char| !is_ident(c)).map_or(0, |i| i + text[i..].chars().next().map_or(1, char::len_utf8))
}

/// The name (ASCII letters, digits, `_`) around a byte offset.
fn word_at(text: &str, offset: usize) -> Option<std::ops::Range<usize>> {
    if offset > text.len() || !text.is_char_boundary(offset) {
        return None;
    }
    let start = ident_start(text, offset);
    let end = text[offset..].find(|c: char| !is_ident(c)).map_or(text.len(), |i| offset + i);
    (start < end && !text.as_bytes()[start].is_ascii_digit()).then_some(start..end)
}

/// The postfix chain `a.b.c` around a name, and how many `.name` parts
/// follow the name in it.
fn chain_around(text: &str, word: std::ops::Range<usize>) -> (std::ops::Range<usize>, usize) {
    let mut start = word.start;
    while let Some(before) = text[..start].trim_end().strip_suffix('.') {
        let name_end = before.trim_end().len();
        let name_start = ident_start(text, name_end);
        if name_start == name_end {
            break;
        }
        start = name_start;
    }
    let mut end = word.end;
    let mut after = 0;
    while let Some(rest) = text[end..].trim_start().strip_prefix('.') {
        let name_start = text.len() - rest.trim_start().len();
        let name_end = text[name_start..].find(|c: char| !is_ident(c)).map_or(text.len(), |i| name_start + i);
        if name_end == name_start {
            break;
        }
        end = name_end;
        after += 1;
    }
    (start..end, after)
}

/// Calls `f` on every node of the tree, without recursion on the data.
fn visit(root: &Expr, f: &mut impl FnMut(&Expr)) {
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        f(e);
        match &e.kind {
            ExprKind::Get(a, _)
            | ExprKind::Project(a, _)
            | ExprKind::Lookup(_, a)
            | ExprKind::Neg(a)
            | ExprKind::Not(a)
            | ExprKind::AggList(_, a)
            | ExprKind::Relation(_, a) => stack.push(a),
            ExprKind::Coalesce(a, b) | ExprKind::Arith(_, a, b) | ExprKind::And(a, b) | ExprKind::Or(a, b) | ExprKind::Implies(a, b) => {
                stack.extend([&**a, &**b])
            }
            ExprKind::If(a, b, c) => {
                stack.extend([&**a, &**b]);
                stack.extend(c.as_deref());
            }
            ExprKind::Compare(a, links) => {
                stack.push(a);
                for l in links {
                    stack.push(&l.rhs);
                    stack.extend(l.tolerance.as_ref().map(|t| &*t.amount));
                }
            }
            ExprKind::InRange { value, lo, hi, .. } => stack.extend([&**value, &**lo, &**hi]),
            ExprKind::InSet { value, .. } | ExprKind::IsNull { value, .. } => stack.push(value),
            ExprKind::InList { value, list: other, .. } | ExprKind::InKeys { value, keys: other, .. } => stack.extend([&**value, &**other]),
            ExprKind::Matches(a, p) => {
                stack.push(a);
                if let Pattern::Table(_, key) = p {
                    stack.push(key);
                }
            }
            ExprKind::Agg { source, filter, body, .. } => {
                stack.push(source);
                stack.extend(filter.as_deref());
                stack.extend(body.as_deref());
            }
            ExprKind::Filter { source, filter, .. } => stack.extend([&**source, &**filter]),
            ExprKind::List(items) | ExprKind::Call(_, items) => stack.extend(items),
            ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::SelfField(_)
            | ExprKind::SelfEntity
            | ExprKind::Var(_)
            | ExprKind::Collection(_)
            | ExprKind::Keys(_)
            | ExprKind::TableKeys(_) => {}
        }
    }
}

/// A field type as it is declared: `number`, `[{id: string, stake: number}]`.
fn type_text(ty: &FieldType) -> String {
    match ty {
        FieldType::String => "string".into(),
        FieldType::Number => "number".into(),
        FieldType::Integer => "integer".into(),
        FieldType::Boolean => "boolean".into(),
        FieldType::List(e) => format!("[{}]", type_text(e)),
        FieldType::Object(fields) => {
            let fields: Vec<String> =
                fields.iter().map(|f| format!("{}: {}{}", f.name, type_text(&f.ty), if f.optional { "?" } else { "" })).collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

fn plural(one: &str) -> String {
    let bare = one.trim_start_matches("an ").trim_start_matches("a ");
    match bare {
        "boolean" => "booleans".into(),
        "regular expression" => "regular expressions".into(),
        other => format!("{other}s"),
    }
}

/// One line per built-in function, for completion (docs/language.md 4.17, 4.20).
fn function_detail(name: &str) -> &'static str {
    match name {
        "sum" => "sum(xs) or sum(x in xs where c: value): the sum of numbers",
        "count" => "count(xs) or count(x in xs where c): how many elements",
        "min" => "min(xs) or min(x in xs: value): the smallest number",
        "max" => "max(xs) or max(x in xs: value): the largest number",
        "mean" => "mean(xs) or mean(x in xs: value): the arithmetic mean",
        "any" => "any(x in xs: condition): whether some condition is true",
        "all" => "all(x in xs: condition): whether every condition is true",
        "share" => "share(x in xs: condition): the fraction of true conditions",
        "abs" => "abs(x): the absolute value of a number",
        "current_year" => "current_year(): the UTC year at the time of the check",
        "len" => "len(x): characters of a string, elements of a list",
        "unique" => "unique(field): no other record has the same value",
        "in_cycle" => "in_cycle(graph): the record lies on a directed cycle",
        "groups" => "groups(graph): the weakly connected components",
        "keys" => "keys(collection or table): the set of its keys",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_and_binders() {
        assert_eq!(member_chain("sum(c.parents"), vec!["c", "parents"]);
        assert_eq!(member_chain("x + segments"), vec!["segments"]);
        assert_eq!(binder_source("o", "all(o in owners: o"), Some("owners".into()));
        assert_eq!(binder_source("p", "any(p ∈ c.parents where p"), Some("c.parents".into()));
        assert_eq!(binder_source("o", "foo in owners"), None);
    }

    #[test]
    fn words_and_chains() {
        let text = "a ∈ o.stake";
        assert_eq!(word_at(text, text.len()), Some(text.len() - 5..text.len()));
        assert_eq!(word_at(text, 1), Some(0..1));
        assert_eq!(word_at("x 42", 3), None);
        let stake = text.len() - 5..text.len();
        assert_eq!(chain_around(text, stake.clone()), (text.len() - 7..text.len(), 0));
        assert_eq!(chain_around(text, text.len() - 7..text.len() - 6), (text.len() - 7..text.len(), 1));
        let text = "sum(c.parents.stake) > 0";
        assert_eq!(chain_around(text, 6..13), (4..19, 1));
    }

    #[test]
    fn every_function_has_a_detail() {
        for f in FUNCTIONS {
            assert!(!function_detail(f).is_empty(), "{f}");
        }
    }
}
