//! No import cycles between the modules of any crate in the workspace.
//!
//! Cargo keeps crates acyclic; inside a crate only a check keeps the modules
//! layered. Each test here reads one crate from its root file: it follows the
//! `mod` declarations (honouring `#[path]`), collects every path that names a
//! module of the same crate (`crate::…`, `super::…`, `self::…`, a child module
//! by name; `use` groups expanded; re-exports followed to the module that
//! defines the item) and fails with the cycle written out, file and line per
//! step, when the module graph has one.
//!
//! What counts: every reference outside comments and string literals, test
//! modules included (a `mod tests` that imports upward knots the crate just
//! as well), `#[cfg]`-gated modules included (the crate must be layered for
//! every target). A `mod child;` declaration is containment, not an import; a
//! parent that uses its child while the child uses an item of the parent is a
//! cycle.
//!
//! A new crate in the workspace fails `every_crate_is_checked` until it gets
//! its own test below.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One test per crate of the workspace (library, binary or build script),
/// named by the crate and its root file.
macro_rules! acyclic {
    ($($test:ident: $root:literal,)*) => {
        $(
            #[test]
            fn $test() {
                assert_acyclic(&workspace().join($root));
            }
        )*
        const CHECKED_ROOTS: &[&str] = &[$($root),*];
    };
}

acyclic! {
    tileattn_lib: "src/lib.rs",
    tileattn_bin: "src/main.rs",
    tileattn_build_script: "build.rs",
    tileattn_host: "host/src/lib.rs",
    tileattn_kernels: "kernels-rs/src/lib.rs",
    tilespec: "tilespec/src/lib.rs",
    tileattn_python: "python/src/lib.rs",
}

/// Integration tests and benches are crates too; they are small, so one test
/// covers them all.
#[test]
fn integration_tests_and_benches() {
    for root in test_and_bench_roots() {
        assert_acyclic(&root);
    }
}

#[test]
fn every_crate_is_checked() {
    let ws = workspace();
    let discovered: BTreeSet<String> = crate_roots()
        .iter()
        .map(|p| {
            p.strip_prefix(&ws)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let checked: BTreeSet<String> = CHECKED_ROOTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        discovered, checked,
        "the workspace's crate roots (left) differ from those tests/module_cycles.rs checks (right): \
         add a line to `acyclic!` for each new crate"
    );
}

/// The checker itself: a cycle through a grouped `use` and `super::` is
/// found, and a re-export at the crate root does not make one up.
#[test]
fn the_checker_finds_a_cycle_and_no_false_one() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\npub use b::Leaf;\n");
    write(
        "a.rs",
        "//! uses crate::b in a comment only\nuse crate::Leaf;\npub struct A;\n",
    );
    write(
        "b.rs",
        "pub mod inner;\npub struct Leaf;\nfn f() -> &'static str { \"crate::a::A\" }\n",
    );
    write("b/inner.rs", "use super::Leaf;\n");
    let graph = ModuleGraph::load(&dir.path().join("lib.rs"));
    assert_eq!(graph.cycle(), None, "no cycle: a → b, b/inner → b, lib → b");

    write("b/inner.rs", "use crate::{a::{self, A}, b::Leaf};\n");
    write(
        "b.rs",
        "pub mod inner;\npub struct Leaf;\nfn g() { inner::h() }\n",
    );
    let cycle = ModuleGraph::load(&dir.path().join("lib.rs"))
        .cycle()
        .expect("a cycle");
    assert!(cycle.starts_with("b → b::inner → a → b"), "{cycle}");
}

fn assert_acyclic(root: &Path) {
    let graph = ModuleGraph::load(root);
    assert!(
        !graph.modules.is_empty(),
        "{}: no modules read",
        root.display()
    );
    if let Some(cycle) = graph.cycle() {
        panic!("{}: import cycle between modules:\n{cycle}", root.display());
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The root package and the workspace members, read from the root Cargo.toml.
fn packages() -> Vec<PathBuf> {
    let ws = workspace();
    let manifest: toml::Table = fs::read_to_string(ws.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    let mut dirs = vec![ws.clone()];
    dirs.extend(members.iter().map(|m| ws.join(m.as_str().unwrap())));
    dirs
}

/// Every library, binary and build script root of the workspace.
fn crate_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for dir in packages() {
        let manifest: toml::Table = fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let build = manifest["package"]
            .get("build")
            .and_then(|b| b.as_str())
            .unwrap_or("build.rs");
        roots.extend(
            ["src/lib.rs", "src/main.rs", build]
                .iter()
                .map(|f| dir.join(f))
                .filter(|p| p.is_file()),
        );
        roots.extend(files_in(&dir.join("src/bin")));
    }
    roots
}

fn test_and_bench_roots() -> Vec<PathBuf> {
    packages()
        .iter()
        .flat_map(|dir| [dir.join("tests"), dir.join("benches")])
        .flat_map(|d| files_in(&d))
        .collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
}

// ---------------------------------------------------------------------------
// Tokens: identifiers, string literals and punctuation, with comments, char
// literals and the insides of strings gone.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    PathSep,
    Punct(char),
}

fn tokenize(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(at(i) == '\n');
                    i += 1;
                }
                if i >= c.len() {
                    break;
                }
            }
        } else if ch == '"' || (matches!(ch, 'r' | 'b') && raw_string_start(&c, i).is_some()) {
            let (text, end) = string_literal(&c, i);
            line += text.matches('\n').count();
            out.push((Tok::Str(text), line));
            i = end;
        } else if ch == '\'' {
            // A char literal ('x', '\n', '"') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && at(i + 1) == ':' {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// At `r"`, `r#"`, `br"`, `br#"`: the number of `#`s of the raw string.
fn raw_string_start(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    // Not the tail of an identifier such as `bar"`.
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&x| x == '#').count();
    (c.get(j + hashes) == Some(&'"')).then_some(hashes)
}

/// The text of the string literal starting at `i`, and the index after it.
fn string_literal(c: &[char], i: usize) -> (String, usize) {
    if let Some(hashes) = raw_string_start(c, i) {
        let open = c[i..].iter().position(|&x| x == '"').unwrap() + i + 1;
        let mut j = open;
        while j < c.len() {
            if c[j] == '"' && c[j + 1..].iter().take_while(|&&x| x == '#').count() >= hashes {
                return (c[open..j].iter().collect(), j + 1 + hashes);
            }
            j += 1;
        }
        return (c[open..].iter().collect(), c.len());
    }
    let mut j = i + 1;
    let mut text = String::new();
    while j < c.len() && c[j] != '"' {
        if c[j] == '\\' {
            j += 1;
        }
        if j < c.len() {
            text.push(c[j]);
        }
        j += 1;
    }
    (text, j + 1)
}

// ---------------------------------------------------------------------------
// The module graph of one crate.

struct Module {
    /// Path from the crate root; empty for the root itself.
    path: Vec<String>,
    file: PathBuf,
    tokens: Vec<(Tok, usize)>,
    children: BTreeSet<String>,
    /// Names brought in by `use` at the top of the file, to the absolute path
    /// they stand for (so `crate::Error` resolves to the module defining it).
    imports: BTreeMap<String, Vec<String>>,
}

struct ModuleGraph {
    modules: Vec<Module>,
    /// (from, to) → the first line of `from`'s file that makes the edge.
    edges: BTreeMap<(usize, usize), usize>,
}

/// A reference found in a file: the absolute path it names, the line, and
/// whether it is a `use` at the file's top level (an import others can see).
struct Reference {
    path: Vec<String>,
    line: usize,
    top_level_use: Option<String>,
}

impl ModuleGraph {
    fn load(root: &Path) -> ModuleGraph {
        let mut modules = Vec::new();
        let mut pending = vec![(Vec::<String>::new(), root.to_path_buf(), true)];
        while let Some((path, file, dir_owner)) = pending.pop() {
            let src =
                fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let tokens = tokenize(&src);
            let mut children = BTreeSet::new();
            for (name, path_attr) in mod_declarations(&tokens) {
                let dir = file.parent().unwrap();
                let (child_file, child_owns_dir) = match path_attr {
                    Some(p) => (dir.join(p), true),
                    None => {
                        let base = if dir_owner {
                            dir.to_path_buf()
                        } else {
                            dir.join(file.file_stem().unwrap())
                        };
                        let flat = base.join(format!("{name}.rs"));
                        if flat.is_file() {
                            (flat, false)
                        } else {
                            (base.join(&name).join("mod.rs"), true)
                        }
                    }
                };
                let mut child_path = path.clone();
                child_path.push(name.clone());
                children.insert(name);
                pending.push((child_path, child_file, child_owns_dir));
            }
            modules.push(Module {
                path,
                file,
                tokens,
                children,
                imports: BTreeMap::new(),
            });
        }
        modules.sort_by(|a, b| a.path.cmp(&b.path));

        let references: Vec<Vec<Reference>> = modules.iter().map(references).collect();
        for (m, refs) in modules.iter_mut().zip(&references) {
            for r in refs {
                if let Some(name) = &r.top_level_use {
                    m.imports.insert(name.clone(), r.path.clone());
                }
            }
        }
        let mut graph = ModuleGraph {
            modules,
            edges: BTreeMap::new(),
        };
        for (from, refs) in references.iter().enumerate() {
            for r in refs {
                if let Some(to) = graph.resolve(&r.path, 0)
                    && to != from
                {
                    graph.edges.entry((from, to)).or_insert(r.line);
                }
            }
        }
        graph
    }

    /// The module an absolute path lands in, following re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Option<usize> {
        let path: Vec<String> = path
            .iter()
            .filter(|s| *s != "self" && *s != "*")
            .cloned()
            .collect();
        let (index, len) = (0..=path.len())
            .rev()
            .find_map(|n| self.index(&path[..n]).map(|i| (i, n)))?;
        if len < path.len()
            && depth < 8
            && let Some(target) = self.modules[index].imports.get(&path[len])
        {
            let mut through = target.clone();
            through.extend_from_slice(&path[len + 1..]);
            if through != path {
                return self.resolve(&through, depth + 1);
            }
        }
        Some(index)
    }

    fn index(&self, path: &[String]) -> Option<usize> {
        self.modules.iter().position(|m| m.path == path)
    }

    /// The cycles of the module graph, each written out one step per line,
    /// or None. Each cycle found loses its closing edge before the search
    /// goes on, so every knot shows up, not just the first.
    fn cycle(&self) -> Option<String> {
        let mut edges: BTreeSet<(usize, usize)> = self.edges.keys().copied().collect();
        let mut found = Vec::new();
        while let Some(cycle) = find_cycle(self.modules.len(), &edges) {
            edges.remove(&(cycle[cycle.len() - 2], cycle[cycle.len() - 1]));
            found.push(self.describe(&cycle));
        }
        (!found.is_empty()).then(|| found.join("\n"))
    }

    fn describe(&self, cycle: &[usize]) -> String {
        let name = |i: usize| {
            let p = &self.modules[i].path;
            if p.is_empty() {
                "crate".to_string()
            } else {
                p.join("::")
            }
        };
        let mut text = cycle
            .iter()
            .map(|&i| name(i))
            .collect::<Vec<_>>()
            .join(" → ");
        for pair in cycle.windows(2) {
            let line = self.edges[&(pair[0], pair[1])];
            let file = &self.modules[pair[0]].file;
            text.push_str(&format!(
                "\n  {} uses {} ({}:{line})",
                name(pair[0]),
                name(pair[1]),
                file.display()
            ));
        }
        text
    }
}

/// A cycle as the list of its modules, the first repeated at the end: a
/// depth-first search in which reaching a module still on the stack closes one.
fn find_cycle(n: usize, edges: &BTreeSet<(usize, usize)>) -> Option<Vec<usize>> {
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        next[a].push(b);
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    fn visit(
        v: usize,
        next: &[Vec<usize>],
        state: &mut [State],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[v] = State::OnStack;
        stack.push(v);
        for &w in &next[v] {
            if state[w] == State::OnStack {
                let start = stack.iter().position(|&x| x == w).unwrap();
                let mut cycle = stack[start..].to_vec();
                cycle.push(w);
                return Some(cycle);
            }
            if state[w] == State::New
                && let Some(c) = visit(w, next, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[v] = State::Done;
        None
    }
    let mut state = vec![State::New; n];
    let mut stack = Vec::new();
    (0..n).find_map(|v| {
        if state[v] == State::New {
            visit(v, &next, &mut state, &mut stack)
        } else {
            None
        }
    })
}

/// `mod name;` declarations outside inline modules, with their `#[path]`.
fn mod_declarations(tokens: &[(Tok, usize)]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut path_attr: Option<String> = None;
    for (i, (tok, _)) in tokens.iter().enumerate() {
        let ident = |k: usize| match tokens.get(k) {
            Some((Tok::Ident(s), _)) => Some(s.as_str()),
            _ => None,
        };
        match tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => depth = depth.saturating_sub(1),
            Tok::Ident(s) if s == "path" && depth == 0 => {
                if let (Some((Tok::Punct('='), _)), Some((Tok::Str(p), _))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    path_attr = Some(p.clone());
                }
            }
            Tok::Ident(s) if s == "mod" && depth == 0 => {
                if let (Some(name), Some((Tok::Punct(';'), _))) = (ident(i + 1), tokens.get(i + 2))
                {
                    out.push((name.to_string(), path_attr.take()));
                }
            }
            Tok::Punct(';') => path_attr = None,
            _ => {}
        }
    }
    out
}

/// Every path in the module's file that names something of this crate, made
/// absolute.
fn references(module: &Module) -> Vec<Reference> {
    let tokens = &module.tokens;
    let mut out = Vec::new();
    // Inline modules (`mod tests { … }`) change what `self` and `super` mean.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i].0 {
            Tok::Punct('{') => {
                if let (Some((Tok::Ident(m), _)), Some((Tok::Ident(name), _))) = (
                    i.checked_sub(2).map(|k| &tokens[k]),
                    i.checked_sub(1).map(|k| &tokens[k]),
                ) && m == "mod"
                {
                    inline.push((name.clone(), depth));
                }
                depth += 1;
                i += 1;
                continue;
            }
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        let after_sep = i > 0 && tokens[i - 1].0 == Tok::PathSep;
        let starts_path = !after_sep
            && matches!(&tokens[i].0, Tok::Ident(_))
            && tokens.get(i + 1).is_some_and(|t| t.0 == Tok::PathSep);
        let is_use = i > 0 && tokens[i - 1].0 == Tok::Ident("use".into());
        let use_group = is_use && tokens[i].0 == Tok::Punct('{');
        if !starts_path && !use_group {
            i += 1;
            continue;
        }
        let line = tokens[i].1;
        let (trees, end) = use_tree(tokens, i);
        let mut scope = module.path.clone();
        scope.extend(inline.iter().map(|(n, _)| n.clone()));
        for (segments, alias) in trees {
            let Some(path) = absolute(&segments, &scope, module, inline.is_empty()) else {
                continue;
            };
            let top_level_use = (is_use && inline.is_empty())
                .then(|| alias.clone())
                .flatten();
            out.push(Reference {
                path,
                line,
                top_level_use,
            });
        }
        i = end.max(i + 1);
    }
    out
}

/// A path written in a `use` tree, and the name it is known by.
type Leaf = (Vec<String>, Option<String>);

/// Parses a path or `use` tree at `i`: each leaf path with the name it is
/// known by (its alias or last segment), and the index after the tree.
fn use_tree(tokens: &[(Tok, usize)], mut i: usize) -> (Vec<Leaf>, usize) {
    let mut segments = Vec::new();
    loop {
        match tokens.get(i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                segments.push(s.clone());
                i += 1;
                if tokens.get(i).is_some_and(|t| t.0 == Tok::PathSep) {
                    i += 1;
                    continue;
                }
                let mut name = segments.last().cloned();
                if name.as_deref() == Some("self") {
                    name = segments.iter().rev().nth(1).cloned();
                }
                if tokens
                    .get(i)
                    .is_some_and(|t| t.0 == Tok::Ident("as".into()))
                {
                    name = match tokens.get(i + 1) {
                        Some((Tok::Ident(a), _)) => Some(a.clone()),
                        _ => name,
                    };
                    i += 2;
                }
                return (vec![(segments, name)], i);
            }
            Some(Tok::Punct('*')) => {
                segments.push("*".into());
                return (vec![(segments, None)], i + 1);
            }
            Some(Tok::Punct('{')) => {
                let mut all = Vec::new();
                i += 1;
                while let Some(t) = tokens.get(i) {
                    match t.0 {
                        Tok::Punct('}') => {
                            i += 1;
                            break;
                        }
                        Tok::Punct(',') => i += 1,
                        _ => {
                            let (sub, end) = use_tree(tokens, i);
                            for (mut s, alias) in sub {
                                let mut full = segments.clone();
                                full.append(&mut s);
                                all.push((full, alias));
                            }
                            i = end.max(i + 1);
                        }
                    }
                }
                return (all, i);
            }
            _ => return (vec![(segments, None)], i),
        }
    }
}

/// The absolute module path a written path stands for, or None when it names
/// another crate (or a local item no module of this crate holds).
fn absolute(
    segments: &[String],
    scope: &[String],
    module: &Module,
    top_level: bool,
) -> Option<Vec<String>> {
    let first = segments.first()?;
    let mut here = scope.to_vec();
    let mut rest = segments;
    match first.as_str() {
        "crate" => {
            here.clear();
            rest = &segments[1..];
        }
        "self" => rest = &segments[1..],
        "super" => {
            while rest.first().is_some_and(|s| s == "super") {
                here.pop()?;
                rest = &rest[1..];
            }
        }
        child if top_level && module.children.contains(child) => {}
        _ => return None,
    }
    here.extend_from_slice(rest);
    Some(here)
}
