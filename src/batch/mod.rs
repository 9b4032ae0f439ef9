//! The proposer loop around `check`: a batch of candidates checked
//! against a growing dataset, merged into it, and scored. A second reader
//! of the check report, beside `report`: nothing here evaluates a rule.

pub mod history;
pub mod merge;
pub mod scores;
