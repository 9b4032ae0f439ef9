//! The language server's document handling, through its public entry point
//! (`skillc::lsp::run` on an in-memory connection): an editor opens a
//! skill file with the fuzzed text (standing in for a shipped skill, with
//! the other shipped skills on disk beside it), edits it with ranged
//! changes whose positions and text come from the input (positions past
//! the end of a line or of the file, splitting surrogate pairs, …), asks
//! for hover, definition and completion at fuzzed positions, saves,
//! closes, and shuts the server down. The server must answer every request
//! and end cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::json;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A folder holding a copy of the shipped skills, made once per process.
fn skills_root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("skillc-fuzz-lsp-{}", std::process::id())).join("skills");
        for (path, text) in skillc::embedded::skills() {
            let rel = path.trim_start_matches("<embedded>/").trim_start_matches("skills/");
            let target = root.join(rel);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, text).unwrap();
        }
        root
    })
}

/// Reads fuzzed numbers off the end of the input.
struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn next(&mut self) -> u32 {
        let Some((&b, rest)) = self.0.split_last() else { return 0 };
        self.0 = rest;
        u32::from(b)
    }
}

fn notify(c: &Connection, method: &str, params: serde_json::Value) {
    c.sender.send(Message::Notification(Notification::new(method.into(), params))).unwrap();
}

fn request(c: &Connection, id: i32, method: &str, params: serde_json::Value) {
    c.sender.send(Message::Request(Request::new(RequestId::from(id), method.into(), params))).unwrap();
}

fuzz_target!(|data: &[u8]| {
    let root = skills_root();
    let (text, controls) = data.split_at(data.len() - data.len().min(48));
    let text = String::from_utf8_lossy(text).into_owned();
    let mut ctl = Bytes(controls);
    let file = root.join("company-profile/SKILL.md");
    let uri = format!("file://{}", file.display());

    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || skillc::lsp::run(&server));
    request(&client, 0, "initialize", json!({ "capabilities": {}, "rootUri": format!("file://{}", root.display()) }));
    notify(&client, "initialized", json!({}));
    notify(
        &client,
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "markdown", "version": 1, "text": text } }),
    );
    let mut id = 1;
    let pos = |ctl: &mut Bytes| json!({ "line": ctl.next() % 64, "character": ctl.next() % 96 });
    for round in 0..(ctl.next() % 6) {
        // A ranged edit: delete a span, insert a few bytes of the input.
        let (a, b) = (pos(&mut ctl), pos(&mut ctl));
        let insert: String = String::from_utf8_lossy(&data[..data.len().min(ctl.next() as usize % 24)]).into_owned();
        notify(
            &client,
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": 2 + round }, "contentChanges": [{ "range": { "start": a, "end": b }, "text": insert }] }),
        );
        for method in ["textDocument/hover", "textDocument/definition", "textDocument/completion"] {
            request(&client, id, method, json!({ "textDocument": { "uri": uri }, "position": pos(&mut ctl) }));
            id += 1;
        }
    }
    notify(&client, "textDocument/didSave", json!({ "textDocument": { "uri": uri } }));
    notify(&client, "textDocument/didClose", json!({ "textDocument": { "uri": uri } }));
    request(&client, id, "shutdown", json!(null));
    notify(&client, "exit", json!(null));

    // Every request gets a response; the server ends on `exit`.
    let mut answered = 0;
    while let Ok(message) = client.receiver.recv() {
        if let Message::Response(r) = message {
            answered += 1;
            assert!(r.error.is_none(), "the server answered with an error: {:?}", r.error);
        }
    }
    thread.join().expect("the server thread does not panic").expect("the server ends cleanly");
    assert_eq!(answered, id + 1, "every request is answered");
});
