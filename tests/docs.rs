//! The docs document the project from inside it: every relative link in the README and
//! `docs/` names a file of this repository, and nothing points outside it.

use std::path::Path;

const DOCS: &[&str] = &[
    "README.md",
    "docs/reference.md",
    "docs/ARCHITECTURE.md",
    "docs/gateways.md",
    "bench/README.md",
];

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
