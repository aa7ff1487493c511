//! What Steward's benchmarks share: fresh databases, timing, percentiles and
//! the table every benchmark prints.
//!
//! The benchmarks themselves are under `benches/` (`cargo bench -p
//! steward-benches --bench store`). This machine is shared and noisy, so each
//! figure is measured next to a baseline in the same run, and the table
//! reports the ratio; absolute figures are indicative only.

pub mod workload;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgPool;
use steward_store_core::{MasterKey, Store, StoreOptions};
use steward_store_postgres::{PostgresOptions, PostgresStore};

/// The factor `STEWARD_BENCH_SCALE` (default 1) applies to every count.
pub fn scale() -> f64 {
    std::env::var("STEWARD_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

/// `n` at the chosen scale, and at least `at_least`.
pub fn scaled(n: usize, at_least: usize) -> usize {
    ((n as f64 * scale()) as usize).max(at_least)
}

/// Steward's store on the PostgreSQL database at `url`, with room for
/// many concurrent writers.
pub async fn postgres_store(url: &str, master: MasterKey) -> anyhow::Result<Store> {
    let log = PostgresStore::connect(
        url,
        PostgresOptions {
            max_connections: 16,
            ..PostgresOptions::default()
        },
    )
    .await?;
    Ok(Store::open(
        Arc::new(log.clone()),
        Arc::new(log),
        master,
        StoreOptions::steward(),
    )
    .await?)
}

/// A database created for one benchmark run and dropped after it.
#[derive(Debug)]
pub struct BenchDatabase {
    admin: PgPool,
    admin_url: String,
    name: String,
}

impl BenchDatabase {
    /// Creates `steward_bench_<tag>_<random>` on the server of `admin_url`
    /// (`STEWARD_BENCH_PG_URL`, default the local server's `postgres` database).
    pub async fn create(tag: &str) -> anyhow::Result<Self> {
        let admin_url = std::env::var("STEWARD_BENCH_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let admin = PgPool::connect(&admin_url)
            .await
            .context("connecting to PostgreSQL")?;
        let name = format!("steward_bench_{tag}_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .context("creating the bench database")?;
        Ok(Self {
            admin,
            admin_url,
            name,
        })
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map_or(self.admin_url.as_str(), |(b, _)| b);
        format!("{base}/{}", self.name)
    }

    /// Drops the database.
    pub async fn drop_now(self) -> anyhow::Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&self.admin)
        .await?;
        Ok(())
    }
}

/// The median of several measurements (they are taken in alternation with
/// the baseline's, so that drift on a shared machine hits both alike).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0–100) of some durations, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One row of a benchmark table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was measured.
    pub measure: String,
    /// Steward's figure, formatted.
    pub steward: String,
    /// The baseline's figure and name, formatted.
    pub baseline: String,
    /// Steward relative to the baseline, formatted.
    pub ratio: String,
    /// The target and whether it was met.
    pub target: String,
}

/// Prints rows as a Markdown table.
pub fn print_table(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!("| measure | Steward | baseline | ratio | target |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.measure, row.steward, row.baseline, row.ratio, row.target
        );
    }
}

/// `value` with thousands separators and no decimals.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&sorted, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 100.0), Duration::from_millis(100));
    }

    #[test]
    fn medians_and_separators() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(12.0), "12");
    }
}
