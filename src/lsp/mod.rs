//! `skillc lsp`: the language server, a thin last layer over the compiler.
//!
//! This is the only module that knows LSP types. It keeps the open editor
//! buffers, compiles them with the skill files on disk through the same
//! [`crate::ir::compile`] and [`crate::examples::run`] that `skillc lint`
//! runs, and converts the same [`Diagnostic`] values: same codes, messages
//! and spans, positions in UTF-16 code units through
//! [`crate::source::LineIndex`]. Hover, go to definition and completion
//! come from `analysis.rs`, which speaks in byte offsets; `workspace.rs`
//! decides which files compile together.
//!
//! The message loop is rust-analyzer's `lsp-server`: [`run`] serves any
//! [`Connection`] (the tests use `Connection::memory()`), [`run_stdio`]
//! serves stdin/stdout. Stdout is the protocol, so printing is denied here.
#![deny(clippy::print_stdout, clippy::print_stderr, clippy::dbg_macro)]

mod analysis;
mod workspace;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{LineCol, SourceDb, Span};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types as lsp;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use workspace::{is_skill_file, path_to_uri, uri_to_path, Document, Workspace};

/// Serves the protocol on stdin and stdout until the client says `exit`.
pub fn run_stdio() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    run(&connection)?;
    drop(connection);
    io_threads.join().map_err(|e| format!("language server I/O: {e}"))
}

/// Serves the protocol on a connection: the initialize handshake, then the
/// message loop, until `shutdown` and `exit` (or the client hangs up).
pub fn run(connection: &Connection) -> Result<(), String> {
    let (id, params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let params: lsp::InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let result = lsp::InitializeResult {
        capabilities: capabilities(),
        server_info: Some(lsp::ServerInfo { name: "skillc".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
    };
    let result = serde_json::to_value(result).map_err(|e| e.to_string())?;
    connection.initialize_finish(id, result).map_err(|e| e.to_string())?;

    let mut server =
        Server { connection, workspace: Workspace::default(), published: BTreeMap::new(), dirty: BTreeSet::new(), forced: BTreeSet::new() };
    #[allow(deprecated)] // root_uri: clients without workspace folders still send it
    let folders: Vec<String> = match (&params.workspace_folders, &params.root_uri) {
        (Some(folders), _) => folders.iter().map(|f| f.uri.as_str().to_string()).collect(),
        (None, Some(root)) => vec![root.as_str().to_string()],
        (None, None) => Vec::new(),
    };
    for folder in folders.iter().filter_map(|f| uri_to_path(f)) {
        server.workspace.add_folder(&folder);
    }
    server.dirty = server.workspace.roots();
    server.flush();
    server.main_loop()
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(lsp::PositionEncodingKind::UTF16),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(lsp::TextDocumentSyncKind::FULL),
            save: Some(lsp::TextDocumentSyncSaveOptions::SaveOptions(lsp::SaveOptions { include_text: Some(true) })),
            ..Default::default()
        })),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp::OneOf::Left(true)),
        completion_provider: Some(lsp::CompletionOptions { trigger_characters: Some(vec![".".into()]), ..Default::default() }),
        ..Default::default()
    }
}

struct Server<'a> {
    connection: &'a Connection,
    workspace: Workspace,
    /// What each URI shows now, by skill root; absent means nothing shown.
    published: BTreeMap<PathBuf, BTreeMap<String, Vec<lsp::Diagnostic>>>,
    /// Skill roots to compile again before the next answer.
    dirty: BTreeSet<PathBuf>,
    /// URIs that get diagnostics published even when unchanged (the
    /// document was opened, changed or saved).
    forced: BTreeSet<String>,
}

impl Server<'_> {
    fn main_loop(&mut self) -> Result<(), String> {
        let mut pending = None;
        loop {
            let message = match pending.take() {
                Some(m) => m,
                None => match self.connection.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()),
                },
            };
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                        return Ok(());
                    }
                    self.flush();
                    // A bug in a query must not take the editor's server down.
                    let (id, method) = (request.id.clone(), request.method.clone());
                    let response = std::panic::catch_unwind(AssertUnwindSafe(|| self.request(request))).unwrap_or_else(|_| {
                        Response::new_err(id, ErrorCode::InternalError as i32, format!("skillc failed to answer `{method}`"))
                    });
                    self.send(response.into());
                }
                Message::Notification(n) if n.method == "exit" => return Ok(()),
                Message::Notification(n) => self.notification(n),
                Message::Response(_) => {}
            }
            // Compile once for a burst of edits: when the next message is
            // already waiting, handle it first.
            if let Ok(next) = self.connection.receiver.try_recv() {
                pending = Some(next);
                continue;
            }
            self.flush();
        }
    }

    fn send(&self, message: Message) {
        // A closed channel means the client is gone; the loop ends on recv.
        let _ = self.connection.sender.send(message);
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(p) = serde_json::from_value::<lsp::DidOpenTextDocumentParams>(n.params) else { return };
                let doc = p.text_document;
                let document = Document { uri: doc.uri.as_str().to_string(), version: doc.version, text: doc.text };
                self.update(document);
            }
            "textDocument/didChange" => {
                let Ok(p) = serde_json::from_value::<lsp::DidChangeTextDocumentParams>(n.params) else { return };
                let Some(path) = uri_to_path(p.text_document.uri.as_str()) else { return };
                let Some(mut document) = self.workspace.documents.get(&path).cloned() else { return };
                for change in p.content_changes {
                    apply_change(&mut document.text, change);
                }
                document.version = p.text_document.version;
                self.update(document);
            }
            "textDocument/didSave" => {
                let Ok(p) = serde_json::from_value::<lsp::DidSaveTextDocumentParams>(n.params) else { return };
                let Some(path) = uri_to_path(p.text_document.uri.as_str()) else { return };
                let Some(mut document) = self.workspace.documents.get(&path).cloned() else { return };
                if let Some(text) = p.text {
                    document.text = text;
                }
                // The other files of the program may have changed on disk.
                self.update(document);
            }
            "textDocument/didClose" => {
                let Ok(p) = serde_json::from_value::<lsp::DidCloseTextDocumentParams>(n.params) else { return };
                let Some(path) = uri_to_path(p.text_document.uri.as_str()) else { return };
                if self.workspace.documents.remove(&path).is_some() {
                    self.dirty.insert(workspace::skill_root(&path));
                }
            }
            _ => {}
        }
    }

    fn update(&mut self, document: Document) {
        let Some(path) = uri_to_path(&document.uri).filter(|p| is_skill_file(p)) else { return };
        self.dirty.insert(workspace::skill_root(&path));
        self.forced.insert(document.uri.clone());
        self.workspace.documents.insert(path, document);
    }

    /// Compiles the programs that changed and publishes what changed: new
    /// diagnostics, and an empty list for every file that had some and has
    /// none now.
    fn flush(&mut self) {
        let roots = self.workspace.roots();
        let gone: Vec<PathBuf> = self.workspace.compiled.keys().filter(|r| !roots.contains(*r)).cloned().collect();
        for root in gone {
            self.workspace.compiled.remove(&root);
            for (uri, _) in self.published.remove(&root).unwrap_or_default() {
                self.publish(&uri, Vec::new(), None);
            }
        }
        let dirty: Vec<PathBuf> = std::mem::take(&mut self.dirty).into_iter().filter(|r| roots.contains(r)).collect();
        for root in dirty {
            // A compiler bug must not take the editor's server down: the
            // program keeps its last diagnostics.
            if std::panic::catch_unwind(AssertUnwindSafe(|| self.workspace.compile(&root))).is_err() {
                continue;
            }
            let compiled = &self.workspace.compiled[&root];
            let db = &compiled.program.db;
            let mut now: BTreeMap<String, Vec<lsp::Diagnostic>> = BTreeMap::new();
            for d in &compiled.diagnostics {
                let uri = uri_of(&self.workspace, &db.get(d.primary.span.file).path);
                now.entry(uri).or_default().push(to_lsp_diagnostic(&self.workspace, db, d));
            }
            let before = self.published.remove(&root).unwrap_or_default();
            let mut uris: BTreeSet<String> = before.keys().chain(now.keys()).cloned().collect();
            let open: Vec<(String, i32)> = self
                .workspace
                .documents
                .iter()
                .filter(|(p, _)| workspace::skill_root(p) == root)
                .map(|(_, d)| (d.uri.clone(), d.version))
                .collect();
            uris.extend(open.iter().map(|(u, _)| u.clone()).filter(|u| self.forced.contains(u)));
            for uri in uris {
                let diagnostics = now.get(&uri).cloned().unwrap_or_default();
                if self.forced.contains(&uri) || before.get(&uri).map_or(!diagnostics.is_empty(), |b| *b != diagnostics) {
                    let version = open.iter().find(|(u, _)| *u == uri).map(|(_, v)| *v);
                    self.publish(&uri, diagnostics, version);
                }
            }
            self.published.insert(root, now);
        }
        self.forced.clear();
    }

    fn publish(&self, uri: &str, diagnostics: Vec<lsp::Diagnostic>, version: Option<i32>) {
        let Ok(uri) = uri.parse::<lsp::Uri>() else { return };
        let params = lsp::PublishDiagnosticsParams { uri, diagnostics, version };
        self.send(Notification::new("textDocument/publishDiagnostics".into(), params).into());
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            "textDocument/hover" => {
                params::<lsp::HoverParams>(request).map(|p| serde_json::to_value(self.hover(p.text_document_position_params)))
            }
            "textDocument/definition" => {
                params::<lsp::GotoDefinitionParams>(request).map(|p| serde_json::to_value(self.definition(p.text_document_position_params)))
            }
            "textDocument/completion" => {
                params::<lsp::CompletionParams>(request).map(|p| serde_json::to_value(self.completion(p.text_document_position)))
            }
            other => Err(Response::new_err(id.clone(), ErrorCode::MethodNotFound as i32, format!("unsupported request `{other}`"))),
        };
        match result {
            Ok(Ok(value)) => Response { id, result: Some(value), error: None },
            Ok(Err(e)) => Response::new_err(id, ErrorCode::InternalError as i32, e.to_string()),
            Err(response) => response,
        }
    }

    /// The compiled program holding the document, and the byte offset of
    /// the position.
    fn locate(&self, at: &lsp::TextDocumentPositionParams) -> Option<(&workspace::Compiled, crate::source::FileId, usize)> {
        let path = uri_to_path(at.text_document.uri.as_str())?;
        let (compiled, file) = self.workspace.file(&path)?;
        let source = compiled.program.db.get(file);
        let pos = LineCol { line: at.position.line, col: at.position.character };
        Some((compiled, file, source.lines.offset_utf16(&source.text, pos)))
    }

    fn hover(&self, at: lsp::TextDocumentPositionParams) -> Option<lsp::Hover> {
        let (compiled, file, offset) = self.locate(&at)?;
        let info = analysis::hover(&compiled.program, file, offset)?;
        Some(lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: info.markdown }),
            range: Some(range(&compiled.program.db, info.span)),
        })
    }

    fn definition(&self, at: lsp::TextDocumentPositionParams) -> Option<lsp::GotoDefinitionResponse> {
        let (compiled, file, offset) = self.locate(&at)?;
        let span = analysis::definition(&compiled.program, file, offset)?;
        let location = location(&self.workspace, &compiled.program.db, span)?;
        Some(lsp::GotoDefinitionResponse::Scalar(location))
    }

    fn completion(&self, at: lsp::TextDocumentPositionParams) -> Option<lsp::CompletionResponse> {
        let (compiled, file, offset) = self.locate(&at)?;
        let items = analysis::completions(&compiled.program, file, offset)
            .into_iter()
            .map(|c| lsp::CompletionItem {
                label: c.label,
                kind: Some(match c.kind {
                    analysis::CompletionKind::Field => lsp::CompletionItemKind::FIELD,
                    analysis::CompletionKind::Relation => lsp::CompletionItemKind::REFERENCE,
                    analysis::CompletionKind::Table => lsp::CompletionItemKind::STRUCT,
                    analysis::CompletionKind::Collection => lsp::CompletionItemKind::MODULE,
                    analysis::CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
                }),
                detail: Some(c.detail),
                ..Default::default()
            })
            .collect();
        Some(lsp::CompletionResponse::Array(items))
    }
}

fn params<P: serde::de::DeserializeOwned>(request: Request) -> Result<P, Response> {
    serde_json::from_value(request.params)
        .map_err(|e| Response::new_err(request.id, ErrorCode::InvalidParams as i32, format!("invalid parameters: {e}")))
}

/// Applies one change; a change without a range replaces the whole text.
fn apply_change(text: &mut String, change: lsp::TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(r) => {
            let index = crate::source::LineIndex::new(text);
            let start = index.offset_utf16(text, LineCol { line: r.start.line, col: r.start.character });
            let end = index.offset_utf16(text, LineCol { line: r.end.line, col: r.end.character }).max(start);
            text.replace_range(start..end, &change.text);
        }
    }
}

/// The URI of a compiled file: the one the editor uses when it is open.
fn uri_of(workspace: &Workspace, path: &Path) -> String {
    workspace.documents.get(path).map_or_else(|| path_to_uri(path), |d| d.uri.clone())
}

fn position(db: &SourceDb, span: Span, offset: u32) -> lsp::Position {
    let file = db.get(span.file);
    let lc = file.lines.line_col_utf16(&file.text, offset as usize);
    lsp::Position { line: lc.line, character: lc.col }
}

fn range(db: &SourceDb, span: Span) -> lsp::Range {
    lsp::Range { start: position(db, span, span.start), end: position(db, span, span.end) }
}

fn location(workspace: &Workspace, db: &SourceDb, span: Span) -> Option<lsp::Location> {
    let path = &db.get(span.file).path;
    // The shipped skills compiled as context are in the binary, not on disk.
    if !path.is_absolute() {
        return None;
    }
    let uri = uri_of(workspace, path).parse().ok()?;
    Some(lsp::Location { uri, range: range(db, span) })
}

/// The LSP form of a diagnostic: `lint`'s code, message and span. Help
/// lines follow the message as in `lint`'s terminal output; secondary
/// labels ("first defined here") become related information.
fn to_lsp_diagnostic(workspace: &Workspace, db: &SourceDb, d: &Diagnostic) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    for help in &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|l| Some(lsp::DiagnosticRelatedInformation { location: location(workspace, db, l.span)?, message: l.message.clone() }))
        .collect();
    lsp::Diagnostic {
        range: range(db, d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        source: Some("skillc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}
