//! The docs document the project from inside it: every relative link in the README and
//! `docs/` names a file of this repository, and nothing points outside it.

use std::path::Path;

const DOCS: &[&str] = &[
    "README.md",
    "CHANGELOG.md",
    "docs/ARCHITECTURE.md",
    "docs/configuration.md",
    "docs/console.md",
    "docs/directories.md",
    "docs/gateways.md",
    "docs/operations.md",
    "docs/performance.md",
    "docs/reference.md",
    "docs/security.md",
    "docs/workloads.md",
    "bench/README.md",
];

/// The README stays what a newcomer reads in ten minutes; the rest lives in `docs/`.
const README_MAX_LINES: usize = 400;

#[test]
fn links_stay_inside_the_repository_and_resolve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in DOCS {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        assert!(
            !text.contains("../shared"),
            "{doc} points outside the repository"
        );
        let base = root.join(doc).parent().unwrap().to_path_buf();
        // Markdown links: [text](target)
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            if target.starts_with("http") || target.starts_with('#') || target.contains(' ') {
                continue;
            }
            let path = target.split('#').next().unwrap();
            assert!(
                base.join(path).exists(),
                "{doc} links to {target}, which is not in the repository"
            );
            assert!(
                base.join(path)
                    .canonicalize()
                    .unwrap()
                    .starts_with(root.canonicalize().unwrap()),
                "{doc} links outside the repository: {target}"
            );
        }
    }
}

#[test]
fn the_readme_stays_short() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lines = std::fs::read_to_string(root.join("README.md"))
        .unwrap()
        .lines()
        .count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines; move detail into docs/"
    );
}

/// Every `KEYMINT_*` variable named in the code (a string literal in `src/`) is documented
/// in `docs/configuration.md`.
#[test]
fn every_variable_the_code_reads_is_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let documented = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    let mut names = std::collections::BTreeSet::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // Unit tests name made-up variables on purpose (typos config check finds).
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                for literal in code.split("\"KEYMINT_").skip(1) {
                    let rest: String = literal
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if literal[rest.len()..].starts_with('"') && !rest.is_empty() {
                        names.insert(format!("KEYMINT_{rest}"));
                    }
                }
            }
        }
    }
    assert!(names.len() > 20, "found only {names:?}");
    let unlisted: Vec<_> = names
        .iter()
        .filter(|n| !n.starts_with("KEYMINT_TEST_") && !keymint::config::table::is_known(n))
        .collect();
    assert!(
        unlisted.is_empty(),
        "not in src/config/table.rs (so not in serve --help or config check): {unlisted:?}"
    );
    let missing: Vec<_> = names
        .iter()
        .filter(|n| !n.starts_with("KEYMINT_TEST_") && !documented.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

/// `docs/configuration.md` shows the table `serve --help` and `config check` use.
#[test]
fn the_configuration_page_shows_the_table_the_code_uses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    let table = keymint::config::table::markdown();
    assert!(
        page.contains(&table),
        "docs/configuration.md differs from src/config/table.rs; its table should read:\n{table}"
    );
}

/// The Debian package's settings file names only variables Keymint reads (a typo there
/// would be silently ignored by every installation that uncomments it).
#[test]
fn the_packaged_settings_file_names_known_variables() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::read_to_string(root.join("deploy/debian/keymint.env")).unwrap();
    let names: Vec<&str> = file
        .lines()
        .map(|l| l.trim_start_matches('#'))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert!(names.len() >= 8, "found only {names:?}");
    let unknown: Vec<_> = names
        .iter()
        .filter(|n| !keymint::config::table::is_known(n))
        .collect();
    assert!(
        unknown.is_empty(),
        "not in src/config/table.rs: {unknown:?}"
    );
}
