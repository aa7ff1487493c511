//! The `steward` binary: parses the command line and maps failures to exit
//! codes (0 success, 2 bad usage or input, 3 concurrency conflict, 1 other).

use std::process::ExitCode;

use clap::Parser;
use steward_runtime::cli::{self, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    // With the KurrentDB client built in, rustls has two crypto providers
    // and would refuse to pick one for TLS to NATS or PostgreSQL.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Test builds only: crash points named in `FAILPOINTS`.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("steward: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
