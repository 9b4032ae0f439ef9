//! The typed rule IR compiled to SQL: a second reader of `ir::Program`
//! beside `check` (docs/sql.md). `plan` builds the steps a runner executes
//! on DuckDB or Spark, `lower` the expressions in each dialect (`dialect`),
//! `canon` the canonical records the engines read, `engine` the run and the
//! report assembled from what the engine finds.

pub mod canon;
pub mod cli;
pub mod dialect;
pub mod engine;
pub mod lower;
pub mod plan;

use crate::diagnostic::Diagnostic;
use crate::ir::Program;
use dialect::{Dialect, DialectName};
use serde_json::Value;

/// The plan of a program for a dialect, or the diagnostics of what the
/// dialect cannot express.
pub fn compile(program: &Program, dialect: DialectName, year: i32) -> Result<plan::Plan, Vec<Diagnostic>> {
    let Some(entity) = program.dataset_entity() else {
        return Ok(plan::Plan { steps: Vec::new(), entity_rules: Vec::new(), dataset_rules: Vec::new(), columns: Vec::new() });
    };
    plan::build(program, dialect.dialect(), entity, year)
}

/// The plan as one SQL script: `skillc sql`.
pub fn script(plan: &plan::Plan, dialect: DialectName) -> String {
    let d = dialect.dialect();
    let mut out = String::new();
    out.push_str(&format!(
        "-- skillc sql --dialect {}: every rule of the skills as {} SQL (docs/sql.md).\n\
         -- `{}` is the path of the canonical records (`skillc check --engine` writes them\n\
         -- with the native reader, so malformed lines never reach the engine).\n\
         -- The statements between `-- @iterate` and `-- @end` are one round: repeat the\n\
         -- `@step` statement until `@changed` returns 0 (the skillc runner does this).\n\
         -- Each `-- @collect NAME` query returns the rows skillc reads back.\n\n",
        dialect.as_str(),
        if d.name == DialectName::Spark { "Spark" } else { "DuckDB" },
        plan::DATA_PATH
    ));
    for step in &plan.steps {
        let text = |k: &str| step[k].as_str().unwrap_or("").to_string();
        match step["op"].as_str().unwrap_or("") {
            "load_jsonl" => {
                let columns: Vec<(String, String)> = step["columns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| Some((c[0].as_str()?.to_string(), c[1].as_str()?.to_string())))
                    .collect();
                out.push_str(&load_statement(d, &text("view"), &text("path"), &columns));
            }
            "sql" => out.push_str(&format!("{};\n\n", text("sql"))),
            "materialize" => out.push_str(&materialize(d, &text("view"), &text("sql"))),
            "iterate" => {
                let view = text("view");
                out.push_str(&format!("-- @iterate {view} (at most {} rounds)\n", step["max_rounds"]));
                out.push_str(&materialize(d, &view, &text("init")));
                out.push_str(&format!("-- @step: {view}_prev is the previous round's {view}\n"));
                out.push_str(&materialize(d, &format!("{view}_prev"), &format!("SELECT * FROM {view}")));
                out.push_str(&materialize(d, &view, &text("step")));
                out.push_str(&format!("-- @changed\n{};\n-- @end {view}\n\n", text("changed")));
            }
            "collect" => out.push_str(&format!("-- @collect {}\n{};\n\n", text("name"), text("sql"))),
            _ => {}
        }
    }
    out
}

fn materialize(d: &Dialect, view: &str, sql: &str) -> String {
    match d.name {
        DialectName::Duckdb => format!("CREATE OR REPLACE TEMP TABLE {view} AS {sql};\n\n"),
        DialectName::Spark => format!("CACHE TABLE {view} AS {sql};\n\n"),
    }
}

fn load_statement(d: &Dialect, view: &str, path: &str, columns: &[(String, String)]) -> String {
    match d.name {
        DialectName::Duckdb => {
            let cols: Vec<String> = columns.iter().map(|(n, t)| format!("{}: {}", (d.string)(n), (d.string)(t))).collect();
            format!(
                "CREATE OR REPLACE TEMP TABLE {view} AS SELECT * FROM read_json({}, format = 'newline_delimited', columns = {{{}}});\n\n",
                (d.string)(path),
                cols.join(", ")
            )
        }
        DialectName::Spark => {
            let cols: Vec<String> = columns.iter().map(|(n, t)| format!("{} {t}", (d.quote)(n))).collect();
            format!("CREATE OR REPLACE TEMPORARY VIEW {view} ({}) USING json OPTIONS (path {});\n\n", cols.join(", "), (d.string)(path))
        }
    }
}

/// The plan's steps as JSON (`skillc sql --plan`): what the runner receives.
pub fn plan_json(plan: &plan::Plan) -> Value {
    Value::Array(plan.steps.clone())
}
