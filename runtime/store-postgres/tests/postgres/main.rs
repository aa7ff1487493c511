//! The PostgreSQL backend against a real server: the shared contract, then
//! what only PostgreSQL can get wrong (positions committing out of order,
//! NOTIFY wake-ups, session locks left behind by failures).
//!
//! Each test gets a fresh database on the server named by
//! `STEWARD_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped when the test ends.

mod gaps;
mod harness;
mod locks;
mod wakeups;

steward_store_contract::contract_tests!(crate::harness::harness());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_restores_exactly() {
    steward_store_contract::a_backup_restores_exactly(
        &crate::harness::harness().await,
        &crate::harness::harness().await,
    )
    .await;
}

/// An embedded SQLite store, to restore PostgreSQL's backups into and back.
struct SqliteHarness(steward_testkit::SqliteDir);

#[async_trait::async_trait]
impl steward_store_contract::Harness for SqliteHarness {
    async fn open(
        &self,
        master: steward_store_core::MasterKey,
    ) -> Result<steward_store_core::Store, steward_events::StoreError> {
        Ok(self.0.store(master).await)
    }

    async fn at_rest_contains(&self, _needle: &str) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_moves_between_sqlite_and_postgresql() {
    let sqlite = || SqliteHarness(steward_testkit::SqliteDir::create());
    steward_store_contract::a_backup_restores_exactly(&sqlite(), &crate::harness::harness().await)
        .await;
    steward_store_contract::a_backup_restores_exactly(&crate::harness::harness().await, &sqlite())
        .await;
}
