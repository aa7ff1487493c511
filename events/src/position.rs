//! Where an event stands in the global log.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An event's place in the global order, assigned when it is committed.
///
/// The SQL backends number events with one integer (`commit == prepare`);
/// KurrentDB has a commit/prepare pair. Positions compare by commit, then
/// prepare, which is KurrentDB's own order. [`Position::ORIGIN`] comes before
/// every event, so "after the origin" means "from the beginning".
///
/// It prints as `42` when both parts agree and as `42:40` otherwise, and
/// parses back from either form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
#[schemars(with = "String")]
pub struct Position {
    commit: u64,
    prepare: u64,
}

impl Position {
    /// Before every event.
    pub const ORIGIN: Position = Position {
        commit: 0,
        prepare: 0,
    };

    /// A position on a backend that numbers its log with one integer.
    pub const fn sequence(n: u64) -> Self {
        Self {
            commit: n,
            prepare: n,
        }
    }

    /// A position on a backend with separate commit and prepare positions.
    pub const fn commit_prepare(commit: u64, prepare: u64) -> Self {
        Self { commit, prepare }
    }

    /// The commit part (the whole position on SQL backends).
    pub const fn commit(self) -> u64 {
        self.commit
    }

    /// The prepare part.
    pub const fn prepare(self) -> u64 {
        self.prepare
    }

    /// The greatest sequence number `n` with `Position::sequence(n) <= self`:
    /// what a backend that numbers its log with one integer compares against
    /// (`position > after.sequence_floor()`), so that any position, such as a
    /// [`Position::predecessor`], is honoured exactly.
    pub const fn sequence_floor(self) -> u64 {
        if self.prepare >= self.commit || self.commit == 0 {
            self.commit
        } else {
            self.commit - 1
        }
    }

    /// The greatest position strictly before this one, so that "from P,
    /// inclusive" can be asked as "after `P.predecessor()`".
    pub const fn predecessor(self) -> Self {
        if self.prepare > 0 {
            Self {
                commit: self.commit,
                prepare: self.prepare - 1,
            }
        } else if self.commit > 0 {
            Self {
                commit: self.commit - 1,
                prepare: u64::MAX,
            }
        } else {
            Self::ORIGIN
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.commit == self.prepare {
            write!(f, "{}", self.commit)
        } else {
            write!(f, "{}:{}", self.commit, self.prepare)
        }
    }
}

/// A position that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position `{0}` is malformed: expected a number, or `commit:prepare`")]
pub struct PositionParseError(String);

impl FromStr for Position {
    type Err = PositionParseError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = || PositionParseError(value.to_owned());
        match value.split_once(':') {
            None => value.parse().map(Self::sequence).map_err(|_| invalid()),
            Some((commit, prepare)) => Ok(Self {
                commit: commit.parse().map_err(|_| invalid())?,
                prepare: prepare.parse().map_err(|_| invalid())?,
            }),
        }
    }
}

impl Serialize for Position {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn orders_by_commit_then_prepare() {
        assert!(Position::commit_prepare(5, 9) < Position::commit_prepare(6, 0));
        assert!(Position::commit_prepare(5, 1) < Position::commit_prepare(5, 2));
        assert!(Position::ORIGIN < Position::sequence(1));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "x", "1:", ":1", "-3", "1:2:3"] {
            assert!(bad.parse::<Position>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_round_trips(commit: u64, prepare: u64) {
            let position = Position::commit_prepare(commit, prepare);
            prop_assert_eq!(position.to_string().parse::<Position>().expect("parses"), position);
        }

        #[test]
        fn sequence_floor_is_the_greatest_sequence_at_or_before(commit in 0u64..1000, prepare in 0u64..1000, n in 0u64..1000) {
            let position = Position::commit_prepare(commit, prepare);
            let floor = position.sequence_floor();
            prop_assert!(Position::sequence(floor) <= position);
            if n > floor {
                prop_assert!(Position::sequence(n) > position);
            }
        }

        #[test]
        fn predecessor_is_the_greatest_smaller_position(commit in 0u64..1000, prepare in 0u64..1000, other_commit in 0u64..1000, other_prepare in 0u64..1000) {
            let position = Position::commit_prepare(commit, prepare);
            let other = Position::commit_prepare(other_commit, other_prepare);
            if position != Position::ORIGIN {
                prop_assert!(position.predecessor() < position);
                // Nothing lies strictly between a position and its predecessor.
                prop_assert!(!(position.predecessor() < other && other < position));
            }
        }
    }
}
