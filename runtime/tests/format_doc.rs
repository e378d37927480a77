//! `FORMAT.md` names the version this runtime reads, in its title, in the header's table and
//! at the head of its list of versions.

use spikeslab_runtime::FORMAT_VERSION;

const SPEC: &str = include_str!("../FORMAT.md");

#[test]
fn the_specification_states_the_version_read() {
    let v = FORMAT_VERSION;
    let title = SPEC.lines().next().unwrap_or_default();
    assert_eq!(title, format!("# spikeslab model blob, format v{v}"));
    let row = SPEC
        .lines()
        .find(|l| l.starts_with("| `header.version` |"))
        .expect("FORMAT.md has a row for `header.version`");
    assert!(
        row.contains(&format!("| `{v}`;")),
        "FORMAT.md's `header.version` row does not say {v}: {row}"
    );
    let versions = SPEC
        .split_once("## Versions")
        .expect("FORMAT.md has a section `## Versions`")
        .1;
    let first = versions
        .lines()
        .find(|l| l.starts_with("- **v"))
        .expect("the section lists the versions");
    assert!(
        first.starts_with(&format!("- **v{v}**")),
        "the list of versions does not start with v{v}: {first}"
    );
}
