//! The last word on every record the analysis builds: the real checker,
//! through its public API (`Compiled::new`, `load`), over the record-local
//! rules of the entity.

use crate::check::{self, Compiled, ReasonRule};
use crate::ir::schema::EntityId;
use crate::ir::{Program, Rule, Scope};
use serde_json::Value;
use std::collections::BTreeSet;

pub struct Verifier {
    compiled: Compiled,
    /// The program rule behind each rule of `compiled`.
    index: Vec<usize>,
}

/// Whether a rule judges one record on its own.
pub fn is_local(rule: &Rule) -> bool {
    rule.scope == Scope::Entity && !rule.needs_dataset
}

impl Verifier {
    /// A checker of the record-local rules of `entity`, plus `extra` rules
    /// (indexed after the program's).
    pub fn new(program: &Program, entity: EntityId, extra: Vec<Rule>) -> Option<Verifier> {
        let mut local = program.clone();
        local.examples.clear();
        let mut index = Vec::new();
        let mut rules = Vec::new();
        for (i, rule) in program.rules.iter().enumerate() {
            if rule.entity == entity && is_local(rule) {
                rules.push(rule.clone());
                index.push(i);
            }
        }
        for (k, rule) in extra.into_iter().enumerate() {
            rules.push(rule);
            index.push(program.rules.len() + k);
        }
        local.rules = rules;
        let compiled = Compiled::new(local).ok()?;
        (compiled.entity == entity).then_some(Verifier { compiled, index })
    }

    /// The rules (program indices) the record fails, or None when it is not
    /// a record that passes the schema.
    pub fn failures(&self, record: &Value) -> Option<BTreeSet<usize>> {
        let line = format!("{record}\n");
        let loaded = check::load(&self.compiled, line.as_bytes(), None, true).ok()?;
        if !loaded.json_errors.is_empty() || loaded.entries.len() != 1 {
            return None;
        }
        let mut failed = BTreeSet::new();
        for (_, reason) in &loaded.reasons {
            match reason.rule {
                ReasonRule::Rule(i) => {
                    failed.insert(self.index[i]);
                }
                ReasonRule::Json | ReasonRule::Schema(_) => return None,
            }
        }
        Some(failed)
    }
}
