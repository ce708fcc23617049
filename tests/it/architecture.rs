//! The module map of `docs/ARCHITECTURE.md`, checked against the code.
//!
//! Reads every `src/**/*.rs` of the library (not `main.rs` and `cli/`, the
//! binary on top of it), takes each `crate::…` path outside comments (also
//! inside `use crate::{a, b::c}` groups) and each `super::…` path that climbs
//! to the crate root, and builds the graph of top-level modules: an edge
//! `a → b` when a file of `a` names `b`. The test fails on
//!
//! - a cycle between top-level modules (naming it),
//! - `station` importing anything but `time` and `error`,
//! - any import the map below does not allow: this table and the one in
//!   `docs/ARCHITECTURE.md` say the same, so a change to the structure
//!   changes both.
//!
//! It reads text, as a reviewer would: a path spelled in a doc comment does
//! not count, one in a string literal would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may import (besides itself), lowest floor
/// first. Keep in step with the module map in `docs/ARCHITECTURE.md`.
const MAY_IMPORT: &[(&str, &[&str])] = &[
    ("time", &[]),
    ("progress", &[]),
    ("music", &[]),
    ("error", &["time"]),
    ("fsutil", &["error"]),
    ("station", &["time", "error"]),
    ("audio", &["time", "error"]),
    ("catalog", &["audio", "time", "error"]),
    (
        "analyze",
        &[
            "audio", "catalog", "music", "fsutil", "progress", "time", "error",
        ],
    ),
    (
        "demo",
        &["analyze", "music", "fsutil", "progress", "time", "error"],
    ),
    (
        "schedule",
        &[
            "analyze", "catalog", "chart", "demo", "music", "station", "fsutil", "time", "error",
        ],
    ),
    ("chart", &["station"]),
    ("package", &["station", "time", "error"]),
    ("page", &["station", "time", "error"]),
    (
        "render",
        &[
            "analyze", "audio", "schedule", "package", "station", "fsutil", "progress", "time",
            "error",
        ],
    ),
    (
        "publish",
        &["station", "fsutil", "progress", "time", "error"],
    ),
    ("preview", &["publish", "station", "time", "error"]),
    (
        "ops",
        &[
            "analyze", "schedule", "package", "publish", "station", "fsutil", "time", "error",
        ],
    ),
    (
        "listeners",
        &["chart", "schedule", "station", "fsutil", "time", "error"],
    ),
    (
        "job",
        &[
            "analyze",
            "catalog",
            "schedule",
            "listeners",
            "render",
            "package",
            "page",
            "publish",
            "station",
            "fsutil",
            "progress",
            "time",
            "error",
        ],
    ),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/ops/verify/mod.rs` → `[ops, verify]`.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The text without `//` comments (doc comments included).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string ("http://…") is rare in code and only
            // hides the rest of that line; good enough for paths.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment of every path after `crate::`, looking into one level
/// of `{…}` groups.
fn crate_roots(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue; // e.g. `$crate::` or `mycrate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        out.insert(ident_at(&group[i..]).to_string());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident_at(rest).to_string());
        }
    }
    out
}

/// Names reached by `super::` paths that climb out of `module` to the
/// crate root (`super::super::x` in `src/a/b.rs` names `x`).
fn super_roots(code: &str, module: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("super::") {
        let mut tail = &rest[at..];
        let mut climbs = 0;
        while let Some(t) = tail.strip_prefix("super::") {
            climbs += 1;
            tail = t;
        }
        if climbs == module.len() {
            out.insert(ident_at(tail).to_string());
        }
        rest = &rest[at + "super::".len() * climbs..];
    }
    out
}

/// The top-level modules declared in `lib.rs`, and what the names it
/// re-exports at the root (`pub use error::{Error, Result}`) belong to.
fn top_level() -> (BTreeSet<String>, BTreeMap<String, String>) {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for line in lib.lines() {
        if let Some(m) = line.strip_prefix("pub mod ") {
            modules.insert(m.trim_end_matches(';').trim().to_string());
        } else if let Some(u) = line.strip_prefix("pub use ") {
            let module = ident_at(u).to_string();
            let names = u[module.len()..].trim_start_matches("::");
            for name in names
                .trim_end_matches(';')
                .trim_matches(['{', '}'])
                .split(',')
            {
                let name = ident_at(name.trim());
                if !name.is_empty() {
                    reexports.insert(name.to_string(), module.clone());
                }
            }
        }
    }
    (modules, reexports)
}

/// `a → {b, …}`: which top-level modules each one names.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let (modules, reexports) = top_level();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in files {
        let module = module_path(&file);
        let Some(top) = module.first() else { continue };
        if !modules.contains(top) {
            continue; // lib.rs, main.rs, cli/: the binary and the root
        }
        let code = without_comments(&std::fs::read_to_string(&file).expect("readable"));
        let names = crate_roots(&code)
            .into_iter()
            .chain(super_roots(&code, &module));
        for name in names {
            let target = reexports.get(&name).unwrap_or(&name);
            if modules.contains(target) && target != top {
                graph
                    .get_mut(top)
                    .expect("every module has a node")
                    .insert(target.clone());
            }
        }
    }
    graph
}

/// A cycle of the graph as `a → b → … → a`, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = path.iter().position(|p| p == next).unwrap_or(0);
                    let mut cycle = path[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, graph, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            if let Some(c) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_reader_finds_imports_in_paths_groups_and_super() {
    let code = without_comments(
        "use crate::{error::Result, station::{layout, Station}};\n\
         use crate::time::SampleIndex; // crate::music is only mentioned\n\
         let x = crate::fsutil::write_atomic(p, b);\n\
         use super::super::page;",
    );
    let roots: Vec<String> = crate_roots(&code).into_iter().collect();
    assert_eq!(roots, ["error", "fsutil", "station", "time"]);
    let module = ["a".to_string(), "b".to_string()];
    assert!(super_roots(&code, &module).contains("page"));
    assert!(super_roots(&code, &module[..1]).is_empty());
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default();
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g).map(|c| c.join(" → ")),
        Some("a → b → c → a".into())
    );
}

#[test]
fn top_level_modules_import_no_cycle_and_only_what_the_map_allows() {
    let graph = import_graph();
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        edges >= 30,
        "only {edges} imports found between modules: is the reader broken?"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle between modules: {}", cycle.join(" → "));
    }

    let station = &graph["station"];
    assert!(
        station.iter().all(|m| m == "time" || m == "error"),
        "station is the ground floor and imports only time and error, not {station:?}"
    );

    let allowed: BTreeMap<&str, BTreeSet<&str>> = MAY_IMPORT
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let mut wrong = Vec::new();
    for (module, imports) in &graph {
        let Some(may) = allowed.get(module.as_str()) else {
            wrong.push(format!(
                "{module} is not in the module map (MAY_IMPORT and docs/ARCHITECTURE.md)"
            ));
            continue;
        };
        for i in imports.iter().filter(|i| !may.contains(i.as_str())) {
            wrong.push(format!(
                "{module} imports {i}, which the map does not allow"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
