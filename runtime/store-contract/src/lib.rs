//! The contract every event store backend must honour, as one test suite.
//!
//! A backend's integration tests implement [`Harness`] (how to open its store
//! on fresh, private storage, and how to look at the raw bytes at rest) and
//! call [`contract_tests!`], which expands to one `#[tokio::test]` per case:
//!
//! ```ignore
//! steward_store_contract::contract_tests!(crate::harness());
//! ```
//!
//! Every case starts from empty storage and asserts on what a user of
//! [`EventStore`] can observe, plus the at-rest checks that only raw access can
//! make (no personal plaintext in any table).

mod backup;
mod cases;
mod vault;

use async_trait::async_trait;
use steward_events::StoreError;
use steward_store_core::{MasterKey, Store};

pub use backup::a_backup_restores_exactly;
pub use cases::*;
pub use vault::*;

/// Fresh, private storage for one test, and ways to open and inspect it.
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// Opens a store on this storage with `master`. Each call is a new handle,
    /// as another process would have: opening twice gives two stores on the
    /// same data.
    async fn open(&self, master: MasterKey) -> Result<Store, StoreError>;

    /// Whether `needle` appears anywhere in the stored bytes (every table,
    /// every column), as an attacker with the database files would see them.
    async fn at_rest_contains(&self, needle: &str) -> bool;

    /// Whether an event id used in one stream is refused in every other.
    /// True for the SQL backends; KurrentDB keeps ids unique per stream only,
    /// a documented difference the contract checks as such.
    fn event_ids_unique_across_streams(&self) -> bool {
        true
    }
}

/// Expands to one `#[tokio::test]` per contract case, each with a fresh
/// harness from `$harness` (an expression evaluating to a future of a
/// [`Harness`]).
#[macro_export]
macro_rules! contract_tests {
    ($harness:expr) => {
        $crate::contract_tests!(@cases $harness;
            appends_and_reads_a_stream,
            expected_versions_are_enforced,
            retried_appends_are_idempotent,
            a_rejected_batch_writes_nothing,
            bad_input_is_refused_by_name,
            concurrent_writers_each_win_one_version,
            concurrent_any_appends_to_one_stream_all_land,
            read_all_pages_in_global_order,
            subscription_catches_up_then_goes_live_with_writers_running,
            a_reopened_store_continues_positions,
            another_handle_sees_commits,
            personal_data_is_ciphertext_at_rest,
            erased_subjects_read_as_erased_everywhere,
            a_wrong_master_key_is_refused,
            events_are_found_by_command_id,
            old_event_shapes_are_upcast_on_read,
            credentials_are_sealed_at_rest_and_bound_to_their_name,
            a_rotated_master_key_opens_everything_and_the_old_one_nothing,
        );
    };
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let harness = $harness.await;
                $crate::$case(&harness).await;
            }
        )*
    };
}
