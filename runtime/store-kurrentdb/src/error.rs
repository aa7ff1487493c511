//! What can go wrong talking to KurrentDB, before it becomes a [`StoreError`].

use steward_events::StoreError;

use crate::mapping::NamespaceError;

/// A failure of the KurrentDB backend itself. Reaches callers as
/// [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
pub enum KurrentError {
    /// The connection string did not parse.
    #[error("the KurrentDB connection string is invalid: {0}")]
    InvalidUrl(String),
    /// The namespace broke its grammar.
    #[error(transparent)]
    InvalidNamespace(#[from] NamespaceError),
    /// The client could not be created or the server could not be reached.
    #[error("cannot connect to KurrentDB at {url}: {reason}")]
    Connect {
        /// The connection string, credentials removed.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A request failed.
    #[error("KurrentDB {operation} failed: {source}")]
    Request {
        /// What was being done.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: kurrentdb::Error,
    },
    /// An append succeeded but its events did not read back as written.
    #[error("appended to `{stream}` but could not read the batch back: {reason}")]
    ReadBack {
        /// The KurrentDB stream.
        stream: String,
        /// What was missing or different.
        reason: String,
    },
}

impl KurrentError {
    pub(crate) fn request(operation: &'static str) -> impl FnOnce(kurrentdb::Error) -> Self {
        move |source| Self::Request { operation, source }
    }
}

impl From<KurrentError> for StoreError {
    fn from(error: KurrentError) -> Self {
        StoreError::backend(error)
    }
}

/// The connection string without any `user:password@` part, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Credentials end at the last `@` before the query (a password may hold `/`).
    let query = rest.find('?').unwrap_or(rest.len());
    match rest[..query].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print() {
        assert_eq!(
            redact("kurrentdb://admin:changeit@db.local:2113?tls=false"),
            "kurrentdb://***@db.local:2113?tls=false"
        );
        assert_eq!(
            redact("kurrentdb+discover://u:p@a:2113,b:2113/?x=1"),
            "kurrentdb+discover://***@a:2113,b:2113/?x=1"
        );
        assert_eq!(
            redact("kurrentdb://localhost:2113?tls=false"),
            "kurrentdb://localhost:2113?tls=false"
        );
        assert_eq!(redact("esdb://u:pa/ss@host:2113"), "esdb://***@host:2113");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn backend_errors_keep_their_cause() {
        let error: StoreError = KurrentError::Request {
            operation: "append",
            source: kurrentdb::Error::ConnectionClosed,
        }
        .into();
        assert_eq!(error.class(), steward_events::ErrorClass::Failure);
        assert!(
            error.to_string().contains("KurrentDB append failed"),
            "{error}"
        );
    }
}
