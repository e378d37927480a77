//! `FORMAT.md` names the version this runtime reads, in its title, in the header's table and
//! at the head of its list of versions.

use spikeslab_runtime::FORMAT_VERSION;

const SPEC: &str = include_str!("../FORMAT.md");

#[test]
fn the_specification_states_the_version_read() {
    let v = FORMAT_VERSION;
    let title = SPEC.lines().next().unwrap_or_default();
    assert_eq!(title, format!("# spikeslab model blob, format v{v}"));
    let row = line_starting(SPEC, "| `header.version` |");
    assert!(
        row.contains(&format!("| `{v}`;")),
        "FORMAT.md's `header.version` row does not say {v}: {row}"
    );
    let versions = SPEC
        .split_once("## Versions")
        .expect("FORMAT.md has a section `## Versions`")
        .1;
    let first = line_starting(versions, "- **v");
    assert!(
        first.starts_with(&format!("- **v{v}**")),
        "the list of versions does not start with v{v}: {first}"
    );
}

/// The first line of `text` that starts with `prefix`.
fn line_starting<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("FORMAT.md has no line starting {prefix:?}"))
}
