//! Where a projection's tables physically are.
//!
//! A projection names its tables logically (`timeline_events`); each build
//! of them gets its own physical copy with a suffix: `timeline_events__g3`
//! for generation 3, `timeline_events__r1a2b…` for a replay as of some
//! point. So a rebuild writes next to the live copy that keeps serving, and
//! swapping is one catalog update.

/// The physical names of one copy of a projection's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    suffix: String,
}

impl Tables {
    /// The tables of a projection's generation.
    pub fn generation(generation: i64) -> Self {
        Self {
            suffix: format!("__g{generation}"),
        }
    }

    /// The tables of a temporary replay; `id` is alphanumeric.
    pub(crate) fn replay(id: &str) -> Self {
        Self {
            suffix: format!("__r{id}"),
        }
    }

    /// A copy known by its suffix (as the catalog records replays).
    pub(crate) fn with_suffix(suffix: &str) -> Self {
        Self {
            suffix: suffix.to_owned(),
        }
    }

    /// The physical name of a logical table (or index, or any other object
    /// that belongs to this copy).
    pub fn name(&self, logical: &str) -> String {
        format!("{logical}{}", self.suffix)
    }

    /// The suffix every name of this copy ends with.
    pub fn suffix(&self) -> &str {
        &self.suffix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_of_the_same_table_never_share_a_name() {
        let names = [
            Tables::generation(1).name("agenda"),
            Tables::generation(2).name("agenda"),
            Tables::generation(12).name("agenda"),
            Tables::replay("a1").name("agenda"),
        ];
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            Tables::generation(3).name("agenda_by_day"),
            "agenda_by_day__g3"
        );
    }
}
