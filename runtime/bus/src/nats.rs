//! What the relay and the projection source share about reaching NATS.

use std::time::Duration;

/// Why a connection could not be made.
#[derive(Debug)]
pub(crate) enum ConnectFailure {
    /// The URL does not parse.
    BadUrl(String),
    /// The server could not be reached.
    Unreachable(async_nats::ConnectError),
}

/// `url` with any `user:password@` part replaced by `***@`, for logs and
/// errors.
pub(crate) fn redact(url: &str) -> String {
    let rest_start = url.find("://").map_or(0, |i| i + 3);
    let (scheme, rest) = url.split_at(rest_start);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Connects as `client_name`, sending the credentials the URL carries
/// (async-nats does not send them by itself), pausing `backoff(attempt)`
/// between reconnection attempts.
pub(crate) async fn connect(
    url: &str,
    client_name: &str,
    timeout: Duration,
    backoff: impl Fn(u32) -> Duration + Send + Sync + 'static,
) -> Result<async_nats::Client, ConnectFailure> {
    let address: async_nats::ServerAddr = url
        .parse()
        .map_err(|e| ConnectFailure::BadUrl(format!("NATS URL {}: {e}", redact(url))))?;
    let options = match (address.username(), address.password()) {
        (Some(user), Some(password)) => {
            async_nats::ConnectOptions::with_user_and_password(user.to_owned(), password.to_owned())
        }
        (Some(token), None) => async_nats::ConnectOptions::with_token(token.to_owned()),
        _ => async_nats::ConnectOptions::new(),
    };
    options
        .name(client_name)
        .connection_timeout(timeout)
        .request_timeout(Some(timeout))
        .reconnect_delay_callback(move |attempts| {
            backoff(u32::try_from(attempts).unwrap_or(u32::MAX))
        })
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("NATS connection up"),
                async_nats::Event::Disconnected => tracing::warn!("NATS connection lost"),
                other => tracing::debug!(event = %other, "NATS connection event"),
            }
        })
        .connect(address)
        .await
        .map_err(ConnectFailure::Unreachable)
}
