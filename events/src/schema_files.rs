//! Committed JSON Schema files, checked against the code that generates
//! them: a test lists what the code says, this module compares it with the
//! folder and, when `STEWARD_UPDATE_SCHEMAS` is set, rewrites the folder.

use std::path::Path;

/// A schema as it is committed: pretty JSON with a final newline.
pub fn pretty(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Compares `dir` with `expected` (file name, schema), rewriting it first
/// when `STEWARD_UPDATE_SCHEMAS` is set. Returns the files that differ or
/// are missing and the files that no schema produces any more.
pub fn compare(
    dir: &Path,
    expected: &[(String, schemars::Schema)],
) -> std::io::Result<(Vec<String>, Vec<String>)> {
    let expected: Vec<(&str, String)> = expected
        .iter()
        .map(|(file, schema)| (file.as_str(), pretty(schema)))
        .collect();
    if std::env::var_os("STEWARD_UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::remove_file(path)?;
            }
        }
        for (file, text) in &expected {
            std::fs::write(dir.join(file), text)?;
        }
    }
    let drifted = expected
        .iter()
        .filter(|(file, text)| std::fs::read_to_string(dir.join(file)).ok().as_ref() != Some(text))
        .map(|(file, _)| (*file).to_owned())
        .collect();
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !expected.iter().any(|(file, _)| *file == name) {
            stale.push(name);
        }
    }
    Ok((drifted, stale))
}
