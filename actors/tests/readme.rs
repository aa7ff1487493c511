//! The README's table of stream categories is generated from the catalog.
//! Run with `STEWARD_UPDATE_README=1` to regenerate it after a change.

use std::path::PathBuf;

use steward_actors::catalog::{self, Category};

const START: &str = "<!-- categories:start -->";
const END: &str = "<!-- categories:end -->";

/// One row per stream category, in the catalog's order.
fn table(categories: &[Category]) -> String {
    let mut table = String::from(
        "| Stream category | Domain | Commands | Events |\n\
         |---|---|---|---|\n",
    );
    for category in categories {
        table.push_str(&format!(
            "| `{}-<id>` | {} | {} | {} |\n",
            category.category,
            category.domain,
            category.commands.join(", "),
            category.events.join(", "),
        ));
    }
    table
}

/// The README with the text between the markers replaced by `block`, or
/// `None` when the markers are missing or out of order.
fn with_block(readme: &str, block: &str) -> Option<String> {
    let start = readme.find(START)? + START.len();
    let end = start + readme[start..].find(END)?;
    Some(format!("{}\n{block}{}", &readme[..start], &readme[end..]))
}

#[test]
fn the_readme_lists_every_stream_category() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md reads");
    let expected = with_block(&readme, &table(catalog::categories()))
        .unwrap_or_else(|| panic!("README.md has no `{START}` … `{END}` block"));
    if std::env::var_os("STEWARD_UPDATE_README").is_some() && expected != readme {
        std::fs::write(&path, &expected).expect("README.md writes");
        return;
    }
    assert!(
        expected == readme,
        "README.md's table of stream categories is out of date; regenerate it with \
         STEWARD_UPDATE_README=1 cargo test -p steward-actors --test readme"
    );
}

#[test]
fn every_category_has_a_row_naming_its_commands_and_events() {
    let categories = catalog::categories();
    let table = table(categories);
    assert_eq!(table.lines().count(), categories.len() + 2);
    let groceries = table
        .lines()
        .find(|line| line.starts_with("| `pantry-<id>` |"))
        .expect("a row for the pantry");
    assert!(
        groceries.contains("| groceries |")
            && groceries.contains("StockItem")
            && groceries.contains("StockRanLow"),
        "{groceries}"
    );
}

#[test]
fn only_the_block_between_the_markers_is_replaced() {
    let readme = format!("# Title\n\nBefore.\n\n{START}\nold table\n{END}\n\nAfter.\n");
    let replaced = with_block(&readme, "| new |\n").expect("markers found");
    assert_eq!(
        replaced,
        format!("# Title\n\nBefore.\n\n{START}\n| new |\n{END}\n\nAfter.\n")
    );
    assert_eq!(with_block("no markers here", "| new |\n"), None);
    assert_eq!(with_block(&format!("{END}\n{START}\n"), "x"), None);
}
