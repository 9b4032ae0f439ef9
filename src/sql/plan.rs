//! The plan: the steps the runner executes, in order (the protocol of
//! docs/sql.md): load the canonical records, index keys and relations,
//! compute the graphs by iterated joins, then one query for the record
//! rules, one for the dataset rules and one for the summary's counts.

use super::dialect::{fill, Dialect};
use super::lower::{edge_item_fields, names, unsupported, KeyTest, Lowerer};
use crate::check::walk;
use crate::diagnostic::Diagnostic;
use crate::ir::expr::{Builtin, Expr, ExprKind, VarId};
use crate::ir::schema::{EntityId, FieldId, FieldType, GraphId, RelationId, RelationKind};
use crate::ir::{Program, Scope};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// The name of the canonical records' view, and the placeholder of their
/// path in the steps until the run fills it in.
pub const RAW: &str = "raw";
pub const DATA_PATH: &str = "{data}";

/// The names of the results the plan collects.
pub mod results {
    /// `[line, key, [rule index…]]` per record that fails a rule.
    pub const RECORDS: &str = "records";
    /// `[[rule index…]]`: the dataset rules that fail.
    pub const DATASET: &str = "dataset";
    /// `[field, value, count]` per summary field value.
    pub const COUNTS: &str = "counts";
    /// `[line, graph, [member key…]]`: the cycle component of each record
    /// on a cycle, members in record order (for the reasons).
    pub const COMPONENTS: &str = "components";
}

pub struct Plan {
    pub steps: Vec<Value>,
    /// The entity rules checked, by index into the program's rules.
    pub entity_rules: Vec<usize>,
    pub dataset_rules: Vec<usize>,
    /// The canonical columns `load_jsonl` reads, with their dialect types.
    pub columns: Vec<(String, String)>,
}

/// The dialect type of a declared field.
pub fn sql_type(d: &Dialect, ty: &FieldType) -> String {
    match ty {
        FieldType::String => d.string_type.into(),
        FieldType::Number | FieldType::Integer => d.double_type.into(),
        FieldType::Boolean => d.boolean_type.into(),
        FieldType::List(item) => fill(d.list_type, &[&sql_type(d, item)]),
        FieldType::Object(fields) => {
            let parts: Vec<String> =
                fields.iter().map(|f| format!("{}{}{}", (d.quote)(&f.name), d.struct_field_sep, sql_type(d, &f.ty))).collect();
            fill(d.struct_type, &[&parts.join(", ")])
        }
    }
}

/// What the rules need beside the records' fields.
#[derive(Default)]
struct Needs {
    relations: BTreeSet<u32>,
    cycles: BTreeSet<u32>,
    groups: BTreeSet<u32>,
    unique: BTreeSet<u32>,
    fields: BTreeSet<u32>,
}

fn needs(p: &Program, rules: &[usize]) -> Needs {
    let mut n = Needs::default();
    for &i in rules {
        let rule = &p.rules[i];
        let mut visit = |e: &Expr| match &e.kind {
            ExprKind::SelfField(f) | ExprKind::Get(_, crate::ir::expr::Access::Entity(f)) => {
                n.fields.insert(f.0);
            }
            ExprKind::Relation(r, _) => {
                n.relations.insert(r.0);
            }
            ExprKind::Call(Builtin::InCycle(g), _) => {
                n.cycles.insert(g.0);
            }
            ExprKind::Call(Builtin::Groups(g), _) => {
                n.groups.insert(g.0);
            }
            ExprKind::Call(Builtin::Unique(f), _) => {
                n.unique.insert(f.0);
            }
            _ => {}
        };
        for (_, e) in &rule.lets {
            walk(e, &mut visit);
        }
        walk(&rule.expr, &mut visit);
    }
    n
}

/// The binder variables an expression reads (lets expanded).
fn binders_read(e: &Expr, lets: &HashMap<u32, &Expr>, out: &mut BTreeSet<u32>) {
    walk(e, &mut |x: &Expr| {
        if let ExprKind::Var(v) = x.kind {
            match lets.get(&v.0) {
                Some(value) => binders_read(value, lets, out),
                None => {
                    out.insert(v.0);
                }
            }
        }
    });
}

/// The key tests of a rule that are computed beside the records: an `in
/// keys(…)` of the record's own values, or of the items of one of its list
/// fields.
fn key_tests<'p>(p: &'p Program, rule_index: usize, next: &mut usize, tests: &mut Vec<(usize, usize, &'p Expr, KeyTest)>) {
    let rule = &p.rules[rule_index];
    if rule.scope != Scope::Entity {
        return;
    }
    let lets: HashMap<u32, &Expr> = rule.lets.iter().map(|(v, e)| (v.0, e)).collect();
    let mut sources: HashMap<u32, &'p Expr> = HashMap::new();
    let mut found: Vec<&'p Expr> = Vec::new();
    let mut visit = |e: &'p Expr| match &e.kind {
        ExprKind::Agg { var, source, .. } | ExprKind::Filter { var, source, .. } => {
            sources.insert(var.0, &**source);
        }
        ExprKind::InKeys { value, keys, .. } if matches!(keys.kind, ExprKind::Keys(_)) => found.push(&**value),
        _ => {}
    };
    for (_, e) in &rule.lets {
        walk(e, &mut visit);
    }
    walk(&rule.expr, &mut visit);
    for value in found {
        let mut read = BTreeSet::new();
        binders_read(value, &lets, &mut read);
        let over = match read.len() {
            0 => None,
            1 => {
                let var = *read.iter().next().unwrap_or(&0);
                match sources.get(&var).map(|s| &s.kind) {
                    Some(ExprKind::SelfField(f)) => Some((VarId(var), *f)),
                    _ => continue,
                }
            }
            _ => continue,
        };
        let n = *next;
        *next += 1;
        tests.push((rule_index, n, value, KeyTest { column: names::key_test(n), over }));
    }
}

struct Builder<'p> {
    p: &'p Program,
    d: &'static Dialect,
    entity: EntityId,
    steps: Vec<Value>,
}

impl Builder<'_> {
    fn q(&self, name: &str) -> String {
        (self.d.quote)(name)
    }
    fn field(&self, f: FieldId) -> String {
        self.q(&self.p.schema.field(self.entity, f).name)
    }
    fn materialize(&mut self, view: &str, sql: String) {
        self.steps.push(json!({"op": "materialize", "view": view, "sql": sql}));
    }
    fn view(&mut self, view: &str, sql: String) {
        self.steps.push(json!({"op": "sql", "sql": format!("CREATE OR REPLACE TEMP VIEW {view} AS {sql}")}));
    }
}

/// Builds the plan of every rule of the dataset entity (and the dataset
/// rules), or the diagnostics of the constructs the dialect cannot express.
pub fn build(p: &Program, d: &'static Dialect, entity: EntityId, year: i32) -> Result<Plan, Vec<Diagnostic>> {
    let schema = &p.schema;
    let e = schema.entity(entity);
    let mut diags = Vec::new();
    for f in e.fields.iter().filter(|f| f.name.starts_with('_')) {
        diags.push(unsupported(f.span, d, "a field whose name starts with `_` (the plan's own columns do)"));
    }
    let entity_rules: Vec<usize> =
        (0..p.rules.len()).filter(|&i| p.rules[i].scope == Scope::Entity && p.rules[i].entity == entity).collect();
    let dataset_rules: Vec<usize> = (0..p.rules.len()).filter(|&i| p.rules[i].scope == Scope::Dataset).collect();
    let all: Vec<usize> = entity_rules.iter().chain(&dataset_rules).copied().collect();
    let mut need = needs(p, &all);
    for g in need.cycles.iter().chain(&need.groups) {
        need.relations.insert(schema.graph(GraphId(*g)).relation.0);
    }
    let mut columns: Vec<(String, String)> = vec![
        (names::ROW.into(), d.bigint_type.into()),
        (names::LINE.into(), d.bigint_type.into()),
        (names::MASK.into(), d.bigint_type.into()),
    ];
    columns.extend(e.fields.iter().map(|f| (f.name.clone(), sql_type(d, &f.ty))));
    let mut b = Builder { p, d, entity, steps: Vec::new() };
    b.steps.push(json!({"op": "load_jsonl", "view": RAW, "path": DATA_PATH, "columns": columns}));

    // 1. Keys, membership, uniqueness.
    let key = e.key.map(|k| b.field(k));
    let member = match &key {
        Some(k) => format!("(r.{m} = 0 AND r.{k} IS NOT NULL AND count(*) OVER (PARTITION BY r.{k}) = 1)", m = names::MASK),
        None => "FALSE".into(),
    };
    let mut base_cols = vec!["r.*".to_string(), format!("{member} AS {}", names::MEMBER)];
    for &f in &need.unique {
        let name = b.field(FieldId(f));
        base_cols
            .push(format!("CASE WHEN r.{name} IS NULL THEN NULL ELSE count(*) OVER (PARTITION BY r.{name}) END AS {}", names::unique(f)));
    }
    b.materialize("base", format!("SELECT {} FROM {RAW} r", base_cols.join(", ")));

    // 2. The key tests computed beside the records.
    let mut tests = Vec::new();
    let mut next = 0;
    for &i in &entity_rules {
        key_tests(p, i, &mut next, &mut tests);
    }
    let mut by_rule: HashMap<usize, HashMap<usize, (usize, KeyTest)>> = HashMap::new();
    let mut key_columns: Vec<(String, String)> = Vec::new(); // (column, join sql)
    if !tests.is_empty() {
        let Some(k) = &key else {
            return Err(vec![unsupported(e.span, d, "`keys(…)` of an entity without a key")]);
        };
        b.view("keyset", format!("SELECT DISTINCT {k} AS k FROM {RAW} WHERE {k} IS NOT NULL"));
    }
    let empty = HashMap::new();
    for (rule, n, value, test) in &tests {
        let r = &p.rules[*rule];
        let sql = match test.over {
            None => {
                let mut l = Lowerer::new(p, d, r, Some("t"), &empty, year);
                l.scalar(value).map(|v| format!("SELECT t.{row}, CASE WHEN {v} IS NULL THEN NULL ELSE k.k IS NOT NULL END AS {c} FROM base t LEFT JOIN keyset k ON k.k = {v}", row = names::ROW, c = test.column))
            }
            Some((var, list)) => {
                let mut l = Lowerer::new(p, d, r, Some("t"), &empty, year);
                l.bind_value(var, "x.e");
                let list = b.field(list);
                l.scalar(value).map(|v| {
                    let explode = (d.explode_with_position)(&format!("t.{list}"), "e", "pos");
                    let tested = (d.agg_list_ordered)(&format!("CASE WHEN {v} IS NULL THEN NULL ELSE k.k IS NOT NULL END"), "x.pos");
                    format!(
                        "SELECT x.{row}, {tested} AS {c} FROM (SELECT t.{row}, {explode} FROM base t) x LEFT JOIN keyset k ON k.k = {v} GROUP BY x.{row}",
                        row = names::ROW,
                        c = test.column
                    )
                })
            }
        };
        match sql {
            Ok(sql) => key_columns.push((test.column.clone(), sql)),
            Err(diag) => diags.push(diag),
        }
        // The test is found by the address of its `in keys` expression.
        let mut address = None;
        let rule_ref = &p.rules[*rule];
        let mut find = |x: &Expr| {
            if let ExprKind::InKeys { value: v, .. } = &x.kind {
                if std::ptr::eq(&**v, *value) {
                    address = Some(x as *const Expr as usize);
                }
            }
        };
        for (_, x) in &rule_ref.lets {
            walk(x, &mut find);
        }
        walk(&rule_ref.expr, &mut find);
        if let Some(a) = address {
            by_rule.entry(*rule).or_default().insert(a, (*n, test.clone()));
        }
    }

    // 3. Relations: one edge per list item that names a member, from a
    // member.
    for &r in &need.relations {
        let (forward, _) = schema.forward(RelationId(r));
        let RelationKind::Forward { list, reference, .. } = schema.relation(forward).kind else { continue };
        let view = format!("edges{}", forward.0);
        if b.steps.iter().any(|s| s["view"] == view.as_str()) {
            continue;
        }
        let Some(k) = &key else { continue };
        let items = edge_item_fields(p, forward);
        let reference = b.q(&items[reference].name);
        let explode = (d.explode_with_position)(&format!("h.{}", b.field(list)), "e", "pos");
        b.materialize(
            &view,
            format!(
                "SELECT x.{row} AS holder, n.{row} AS named, x.pos AS item, x.e AS e FROM (SELECT h.{row}, {explode} FROM base h WHERE h.{m}) x JOIN base n ON n.{k} = x.e.{reference} AND n.{m}",
                row = names::ROW,
                m = names::MEMBER
            ),
        );
    }

    // 4. Graphs: groups by min-label propagation with pointer jumping;
    // cycles by trimming, then forward/backward colouring.
    for &g in need.groups.iter().chain(&need.cycles).collect::<BTreeSet<_>>() {
        let rel = schema.graph(GraphId(g)).relation;
        b.view(&format!("gedges{g}"), format!("SELECT DISTINCT named AS src, holder AS dst FROM edges{}", rel.0));
    }
    for &g in &need.groups {
        wcc(&mut b, g);
    }
    for &g in &need.cycles {
        scc(&mut b, g);
    }

    // 5. The records with their neighbours, cycles and key tests.
    let read_fields: Vec<FieldId> = need.fields.iter().map(|f| FieldId(*f)).collect();
    let plain = |b: &Builder, alias: &str| -> String {
        let mut fields = vec![(names::ROW.to_string(), format!("{alias}.{}", names::ROW))];
        for &f in &read_fields {
            fields.push((schema.field(entity, f).name.clone(), format!("{alias}.{}", b.field(f))));
        }
        (d.struct_value)(&fields)
    };
    let mut joins = String::new();
    let mut ent_cols = vec!["b.*".to_string()];
    for &r in &need.relations {
        let (forward, inverse) = schema.forward(RelationId(r));
        let (from, to) = if inverse { ("named", "holder") } else { ("holder", "named") };
        let items = (d.agg_list_ordered)("w.e", "w.item");
        let neighbour = (d.struct_value)(&[("n".into(), plain(&b, "n")), ("e".into(), "w.items".into())]);
        let nbrs = (d.agg_list_ordered)(&neighbour, "w.dst");
        let alias = format!("n{r}");
        joins.push_str(&format!(
            " LEFT JOIN (SELECT w.src AS node, {nbrs} AS nbr FROM (SELECT w.{from} AS src, w.{to} AS dst, {items} AS items FROM edges{f} w GROUP BY w.{from}, w.{to}) w JOIN base n ON n.{row} = w.dst GROUP BY w.src) {alias} ON {alias}.node = b.{row}",
            f = forward.0,
            row = names::ROW
        ));
        ent_cols.push(format!(
            "CASE WHEN b.{m} THEN coalesce({alias}.nbr, {empty}) END AS {}",
            names::neighbours(r),
            m = names::MEMBER,
            empty = d_empty(d)
        ));
    }
    for &g in &need.cycles {
        let alias = format!("c{g}");
        joins.push_str(&format!(" LEFT JOIN cyc{g} {alias} ON {alias}.node = b.{}", names::ROW));
        ent_cols.push(format!("{alias}.oncycle AS {}", names::on_cycle(g)));
        ent_cols.push(format!("{alias}.scc AS {}", names::component(g)));
    }
    for (i, (column, sql)) in key_columns.iter().enumerate() {
        let alias = format!("k{i}");
        joins.push_str(&format!(" LEFT JOIN ({sql}) {alias} ON {alias}.{row} = b.{row}", row = names::ROW));
        ent_cols.push(format!("{alias}.{column} AS {column}"));
    }
    b.materialize(names::RECORDS, format!("SELECT {} FROM base b{joins}", ent_cols.join(", ")));
    // Groups: their members as full records, in row order.
    for &g in &need.groups {
        let mut fields =
            vec![(names::ROW.to_string(), format!("e.{}", names::ROW)), (names::MEMBER.to_string(), format!("e.{}", names::MEMBER))];
        for &f in &read_fields {
            fields.push((schema.field(entity, f).name.clone(), format!("e.{}", b.field(f))));
        }
        for &r in &need.relations {
            fields.push((names::neighbours(r), format!("e.{}", names::neighbours(r))));
        }
        let member = (d.struct_value)(&fields);
        let members = (d.agg_list_ordered)(&member, &format!("e.{}", names::ROW));
        b.materialize(
            &names::groups(g),
            format!(
                "SELECT w.label AS gid, {members} AS members FROM wcc{g} w JOIN {} e ON e.{} = w.node GROUP BY w.label",
                names::RECORDS,
                names::ROW
            ),
        );
    }

    // 6. The rules.
    let mut checks = Vec::new();
    let mut hoisted = Vec::new();
    for &i in &entity_rules {
        let rule = &p.rules[i];
        let tests = by_rule.get(&i).unwrap_or(&empty);
        let mut l = Lowerer::new(p, d, rule, Some("t"), tests, year);
        match l.rule_hoisting(&mut hoisted) {
            Ok(cond) => {
                let mask = rule.own_fields.iter().fold(0u64, |m, f| m | crate::check::store::field_bit(*f));
                let applies = if mask == 0 {
                    String::new()
                } else {
                    format!("{} = 0 AND ", fill(d.bit_and, &[&format!("t.{}", names::MASK), &(mask as i64).to_string()]))
                };
                checks.push(format!("CASE WHEN {applies}NOT coalesce({cond}, TRUE) THEN {i} END"));
            }
            Err(diag) => diags.push(diag),
        }
    }
    let mut dataset_checks = Vec::new();
    let mut dataset_hoisted = Vec::new();
    for &i in &dataset_rules {
        let mut l = Lowerer::new(p, d, &p.rules[i], None, &empty, year);
        match l.rule_hoisting(&mut dataset_hoisted) {
            Ok(cond) => dataset_checks.push(format!("CASE WHEN NOT coalesce({cond}, TRUE) THEN {i} END")),
            Err(diag) => diags.push(diag),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    let failing = |checks: &[String]| -> String {
        if checks.is_empty() {
            // An empty list of the type the others have.
            return fill(d.list_filter, &[&fill(d.list_value, &["0"]), "x", "FALSE"]);
        }
        fill(d.list_filter, &[&fill(d.list_value, &[&checks.join(", ")]), "x", "x IS NOT NULL"])
    };
    let key_sql = key.as_ref().map_or(format!("CAST(NULL AS {})", d.string_type), |k| format!("t.{k}"));
    let failed = failing(&checks);
    b.steps.push(json!({
        "op": "collect",
        "name": results::RECORDS,
        "sql": format!(
            "SELECT line, k, failed FROM (SELECT t.{} AS line, {key_sql} AS k, {failed} AS failed FROM {} t{}) f WHERE {} > 0 ORDER BY line",
            names::LINE,
            names::RECORDS,
            if hoisted.is_empty() { String::new() } else { format!(" CROSS JOIN {}", hoisted_table(&hoisted)) },
            fill(d.list_len, &["failed"])
        ),
    }));
    if !dataset_rules.is_empty() {
        // The dataset rules' aggregates are hoisted subqueries (Spark
        // refuses a subquery inside a higher-order function such as the
        // filter of the list of checks): the one-row table computes them,
        // the checks read it.
        let list = fill(d.list_value, &[&dataset_checks.join(", ")]);
        let filtered = fill(d.list_filter, &[&list, "x", "x IS NOT NULL"]);
        let from = if dataset_hoisted.is_empty() { String::new() } else { format!(" FROM {}", hoisted_table(&dataset_hoisted)) };
        b.steps.push(json!({"op": "collect", "name": results::DATASET, "sql": format!("SELECT {filtered} AS failed{from}")}));
    }
    let tallied: Vec<String> = e
        .summary
        .iter()
        .filter(|f| e.fields[f.0 as usize].ty == FieldType::String)
        .map(|f| {
            let name = b.field(*f);
            format!(
                "SELECT {} AS field, {name} AS value, count(*) AS n FROM {} WHERE {name} IS NOT NULL GROUP BY {name}",
                (d.string)(&e.fields[f.0 as usize].name),
                names::RECORDS
            )
        })
        .collect();
    if !tallied.is_empty() {
        b.steps.push(json!({"op": "collect", "name": results::COUNTS, "sql": tallied.join(" UNION ALL ")}));
    }
    for &g in &need.cycles {
        b.steps.push(json!({
            "op": "collect",
            "name": results::COMPONENTS,
            "sql": format!(
                "SELECT t.{line}, {g} AS graph, m.lines FROM {rec} t JOIN (SELECT s.{scc} AS scc, {lines} AS lines FROM {rec} s WHERE s.{cyc} GROUP BY s.{scc}) m ON m.scc = t.{scc} WHERE t.{cyc} ORDER BY t.{line}",
                line = names::LINE,
                rec = names::RECORDS,
                scc = names::component(g),
                cyc = names::on_cycle(g),
                lines = (d.agg_list_ordered)(&format!("s.{}", key.as_deref().unwrap_or(names::ROW)), &format!("s.{}", names::ROW)),
            ),
        }));
    }
    Ok(Plan { steps: b.steps, entity_rules, dataset_rules, columns })
}

fn d_empty(d: &Dialect) -> &'static str {
    match d.name {
        super::dialect::DialectName::Duckdb => "[]",
        super::dialect::DialectName::Spark => "array()",
    }
}

/// Groups (weakly connected components) of graph `g`: every member starts
/// with its own row as label; a round takes the least label of the node, of
/// its neighbours (both directions) and of the node its label names
/// (pointer jumping). At the fixed point every member of a component holds
/// its least row: the group's first member, as the native engine numbers
/// groups. Rounds: at most the component's diameter plus one.
fn wcc(b: &mut Builder, g: u32) {
    let row = names::ROW;
    let v = format!("wcc{g}");
    let prev = format!("{v}_prev");
    let init = format!("SELECT {row} AS node, {row} AS label FROM base WHERE {}", names::MEMBER);
    let step = format!(
        "SELECT p.node, least(p.label, coalesce(nb.l, p.label), coalesce(j.label, p.label)) AS label FROM {prev} p \
         LEFT JOIN (SELECT u.a AS node, min(q.label) AS l FROM (SELECT src AS a, dst AS b FROM gedges{g} UNION ALL SELECT dst AS a, src AS b FROM gedges{g}) u JOIN {prev} q ON q.node = u.b GROUP BY u.a) nb ON nb.node = p.node \
         LEFT JOIN {prev} j ON j.node = p.label"
    );
    let changed = format!("SELECT count(*) FROM {v} c JOIN {prev} p ON c.node = p.node WHERE c.label <> p.label");
    b.steps.push(json!({"op": "iterate", "view": v, "init": init, "step": step, "changed": changed, "max_rounds": 100_000}));
}

/// Cycle membership of graph `g`. First the nodes that cannot lie on a
/// cycle are trimmed (no live predecessor or no live successor), a layer a
/// round; then the strongly connected components of what is left by
/// forward/backward colouring (Orzan): forward, each node takes the least
/// colour of its predecessors until nothing changes; backward, each root
/// (its colour is its own row) marks the nodes of its colour that reach it;
/// the marked nodes form the root's component and leave; repeat. One
/// `iterate` drives all of it: the phase and whether the last round changed
/// anything are columns of the state.
fn scc(b: &mut Builder, g: u32) {
    let row = names::ROW;
    let core = format!("core{g}");
    let cp = format!("{core}_prev");
    b.steps.push(json!({
        "op": "iterate",
        "view": core,
        "init": format!("SELECT {row} AS node, TRUE AS alive FROM base WHERE {}", names::MEMBER),
        "step": format!(
            "SELECT p.node, p.alive AND coalesce(i.n, 0) > 0 AND coalesce(o.n, 0) > 0 AS alive FROM {cp} p \
             LEFT JOIN (SELECT e.dst AS node, count(*) AS n FROM gedges{g} e JOIN {cp} s ON s.node = e.src AND s.alive GROUP BY e.dst) i ON i.node = p.node \
             LEFT JOIN (SELECT e.src AS node, count(*) AS n FROM gedges{g} e JOIN {cp} s ON s.node = e.dst AND s.alive GROUP BY e.src) o ON o.node = p.node"
        ),
        "changed": format!("SELECT count(*) FROM {core} c JOIN {cp} p ON c.node = p.node WHERE c.alive <> p.alive"),
        "max_rounds": 100_000,
    }));
    b.view(
        &format!("cedges{g}"),
        format!(
            "SELECT e.src, e.dst FROM gedges{g} e JOIN {core} a ON a.node = e.src AND a.alive JOIN {core} z ON z.node = e.dst AND z.alive"
        ),
    );
    let v = format!("scc{g}");
    let p = format!("{v}_prev");
    let forward = "least(p.c, coalesce(f.c, p.c))";
    let marked = "(p.m OR k.node IS NOT NULL)";
    let step = format!(
        "SELECT p.node, \
         CASE WHEN NOT p.active THEN FALSE WHEN s.ph = 1 AND NOT s.moving THEN NOT p.m ELSE TRUE END AS active, \
         CASE WHEN NOT p.active THEN p.c WHEN s.ph = 0 AND s.moving THEN {forward} WHEN s.ph = 1 AND NOT s.moving THEN p.node ELSE p.c END AS c, \
         CASE WHEN NOT p.active THEN p.m WHEN s.ph = 0 AND NOT s.moving THEN p.c = p.node WHEN s.ph = 1 AND s.moving THEN {marked} WHEN s.ph = 1 THEN FALSE ELSE p.m END AS m, \
         CASE WHEN NOT p.active THEN p.ph WHEN NOT s.moving THEN 1 - s.ph ELSE s.ph END AS ph, \
         CASE WHEN NOT p.active THEN FALSE WHEN s.ph = 0 AND s.moving THEN {forward} <> p.c WHEN s.ph = 1 AND s.moving THEN {marked} <> p.m ELSE TRUE END AS chg, \
         CASE WHEN p.active AND s.ph = 1 AND NOT s.moving AND p.m THEN p.c ELSE p.scc END AS scc \
         FROM {p} p \
         CROSS JOIN (SELECT max(CASE WHEN active THEN ph END) AS ph, coalesce(max(CASE WHEN active AND chg THEN 1 ELSE 0 END), 0) = 1 AS moving FROM {p}) s \
         LEFT JOIN (SELECT e.dst AS node, min(q.c) AS c FROM cedges{g} e JOIN {p} q ON q.node = e.src AND q.active JOIN {p} r ON r.node = e.dst AND r.active GROUP BY e.dst) f ON f.node = p.node \
         LEFT JOIN (SELECT DISTINCT e.src AS node, q.c AS c FROM cedges{g} e JOIN {p} q ON q.node = e.dst AND q.active AND q.m JOIN {p} r ON r.node = e.src AND r.active AND r.c = q.c) k ON k.node = p.node AND k.c = p.c"
    );
    b.steps.push(json!({
        "op": "iterate",
        "view": v,
        "init": format!("SELECT node, TRUE AS active, node AS c, FALSE AS m, 0 AS ph, TRUE AS chg, CAST(NULL AS BIGINT) AS scc FROM {core} WHERE alive"),
        "step": step,
        "changed": format!(
            "SELECT count(*) FROM {v} c JOIN {p} p ON c.node = p.node WHERE c.active <> p.active OR c.c <> p.c OR c.m <> p.m OR c.ph <> p.ph OR c.chg <> p.chg OR coalesce(c.scc, -1) <> coalesce(p.scc, -1)"
        ),
        "max_rounds": 100_000,
    }));
    // On a cycle: a component of two or more, or an edge to itself.
    b.materialize(
        &format!("cyc{g}"),
        format!(
            "SELECT s.node, s.scc, (z.n >= 2 OR l.node IS NOT NULL) AS oncycle FROM {v} s JOIN (SELECT scc, count(*) AS n FROM {v} GROUP BY scc) z ON z.scc = s.scc \
             LEFT JOIN (SELECT DISTINCT src AS node FROM gedges{g} WHERE src = dst) l ON l.node = s.node"
        ),
    );
}

/// The one-row table of hoisted subqueries (`names::HOISTED`).
fn hoisted_table(subqueries: &[String]) -> String {
    let columns: Vec<String> = subqueries.iter().enumerate().map(|(i, q)| format!("{q} AS {}", names::hoisted(i))).collect();
    format!("(SELECT {}) {}", columns.join(", "), names::HOISTED)
}
