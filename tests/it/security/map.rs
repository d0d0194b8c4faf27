//! The checked map: the checklist table of `SECURITY.md` names the tests of every item, and
//! this module holds that table to the source.
//!
//! A row is `| N | requirement | tests |`; its last cell lists test references in backticks:
//! a bare name is a test of this suite (`tests/it/security/*.rs`); `path::name` is a test in
//! another file of the repository (`tests/it/audit/log.rs::name`,
//! `src/throttle/limiter/tests.rs::name`: the last segment is the function).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// The numbered items of the checklist.
const ITEMS: std::ops::RangeInclusive<u32> = 1..=44;

/// The tests of the audit log itself (items 29 and 30), each named under some item.
const AUDIT_LOG: &str = "tests/it/audit/log.rs";

/// The heading above the checklist table in `SECURITY.md`.
const TABLE_HEADING: &str = "## The checklist";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The names of the test functions (`#[test]`, `#[tokio::test]`) in a Rust source.
fn test_fns(source: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    let mut names = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .strip_prefix("fn ")
        else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The attributes and comments right above the function.
        let is_test = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.starts_with("#[") || l.starts_with("//"))
            .any(|l| *l == "#[test]" || l.starts_with("#[tokio::test"));
        if is_test {
            names.insert(name);
        }
    }
    names
}

/// The tests of this suite, by name.
fn suite_tests() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for path in rust_files(&root().join("tests/it/security")) {
        names.extend(test_fns(&std::fs::read_to_string(&path).expect("read")));
    }
    names
}

/// The Rust files under `dir`, at any depth.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path: PathBuf = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every `item_NN_...` test of the integration tests (`tests/it/`), wherever its concern put
/// it, as the reference that names it: a bare name in this suite, `path::name` elsewhere.
fn item_tests() -> BTreeSet<String> {
    let suite = root().join("tests/it/security");
    let mut refs = BTreeSet::new();
    for path in rust_files(&root().join("tests/it")) {
        let source = std::fs::read_to_string(&path).expect("read");
        for name in test_fns(&source)
            .into_iter()
            .filter(|n| n.starts_with("item_"))
        {
            if path.starts_with(&suite) {
                refs.insert(name);
            } else {
                let file = path.strip_prefix(root()).expect("under the root");
                refs.insert(format!("{}::{name}", file.display()));
            }
        }
    }
    refs
}

/// The checklist table of `SECURITY.md`: item number -> the test references of its row.
fn checklist_table() -> BTreeMap<u32, Vec<String>> {
    let doc = std::fs::read_to_string(root().join("SECURITY.md")).expect("SECURITY.md");
    let start = doc.find(TABLE_HEADING).unwrap_or_else(|| {
        panic!("SECURITY.md has no {TABLE_HEADING:?} section");
    });
    let mut rows = BTreeMap::new();
    for line in doc[start..].lines().skip(1) {
        if line.starts_with("## ") {
            break;
        }
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        let Ok(item) = cells[0].trim().parse::<u32>() else {
            continue;
        };
        let tests = cells.last().expect("a cell");
        let refs: Vec<String> = tests
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        assert!(
            rows.insert(item, refs).is_none(),
            "item {item} has two rows in SECURITY.md"
        );
    }
    rows
}

/// Whether a test reference of the table names a test that exists: a test function of the
/// file, or a generic test of the conformance suite (`tests/it/conformance/AREA.rs`), which its
/// `mod.rs` instantiates for every store.
fn exists(reference: &str, suite: &BTreeSet<String>) -> bool {
    match reference.split_once("::") {
        None => suite.contains(reference),
        Some((file, path)) => {
            let name = path.rsplit("::").next().expect("a name");
            let Ok(source) = std::fs::read_to_string(root().join(file)) else {
                return false;
            };
            test_fns(&source).contains(name)
                || (file.starts_with("tests/it/conformance/")
                    && source.contains(&format!("pub async fn {name}<"))
                    && std::fs::read_to_string(root().join("tests/it/conformance/mod.rs"))
                        .is_ok_and(|m| m.lines().any(|l| l.trim() == format!("{name},"))))
        }
    }
}

/// The map is complete and true: every item of [`ITEMS`] has a row with at least one test, every
/// test named there exists, every `item_NN_...` test of the integration tests is named in row
/// NN, and every test of `tests/it/audit/log.rs` is named somewhere.
#[test]
fn the_checklist_table_in_security_md_maps_every_item_to_existing_tests() {
    let table = checklist_table();
    let suite = suite_tests();
    let mut problems = Vec::new();
    let numbers: BTreeSet<u32> = table.keys().copied().collect();
    let expected: BTreeSet<u32> = ITEMS.collect();
    if numbers != expected {
        problems.push(format!("the table's items are {numbers:?}, not {ITEMS:?}"));
    }
    for (item, refs) in &table {
        if refs.is_empty() {
            problems.push(format!("item {item} has no test"));
        }
        for r in refs.iter().filter(|r| !exists(r, &suite)) {
            problems.push(format!("item {item} names `{r}`, which is no test"));
        }
    }
    for name in &item_tests() {
        let Some(number) = name
            .rsplit("::")
            .next()
            .and_then(|n| n.strip_prefix("item_"))
            .and_then(|rest| rest.get(..2))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if !table.get(&number).is_some_and(|refs| refs.contains(name)) {
            problems.push(format!("`{name}` is not named under item {number}"));
        }
    }
    let cited: BTreeSet<&str> = table.values().flatten().map(String::as_str).collect();
    let audit = std::fs::read_to_string(root().join(AUDIT_LOG)).expect("the audit log's tests");
    for name in test_fns(&audit) {
        if !cited.contains(format!("{AUDIT_LOG}::{name}").as_str()) {
            problems.push(format!("`{AUDIT_LOG}::{name}` is named under no item"));
        }
    }
    assert!(
        problems.is_empty(),
        "SECURITY.md's checklist table and the tests disagree:\n{}",
        problems.join("\n")
    );
}

/// The scanner finds test functions and only them (so that the check above means something).
#[test]
fn the_map_check_recognises_test_functions() {
    let source = "#[test]\nfn a() {}\n/// doc\n#[tokio::test(flavor = \"current_thread\")]\n\
                  async fn b() {}\nfn helper() {}\n#[tokio::test]\npub async fn c() {}\n";
    let names: Vec<String> = test_fns(source).into_iter().collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert!(
        suite_tests()
            .contains("the_checklist_table_in_security_md_maps_every_item_to_existing_tests")
    );
}
