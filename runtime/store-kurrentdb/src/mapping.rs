//! The pure translation between Steward's envelope and KurrentDB's records:
//! stream names, event parts, positions, expected versions and timestamps.
//! Nothing here talks to a server, so all of it is unit-tested.
//!
//! An event is stored as:
//!
//! | KurrentDB | Steward |
//! |---|---|
//! | stream | `<category>-<id>` as-is (or `<namespace>.<category>-<id>`, see [`StreamNames`]) |
//! | event id | `event_id` |
//! | event type | `event_type` |
//! | content type | `application/json` |
//! | data | `data`, as JSON |
//! | custom metadata | [`EventMetadata`], as JSON |
//! | revision | `stream_version` |
//! | `$all` position | `global_position` (commit, prepare) |
//! | `created` | `recorded_at` |

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kurrentdb::{CurrentRevision, StreamPosition, StreamState, SubscriptionFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_events::envelope::SealedBox;
use steward_events::{
    EventType, ExpectedVersion, Metadata, NewEvent, Personal, Position, RecordedEvent, StoreError,
    StreamId, SubjectId,
};
use uuid::Uuid;

/// The custom metadata of every Steward event in KurrentDB.
///
/// Correlation and causation use KurrentDB's own `$correlationId` and
/// `$causationId` keys, so that its `$by_correlation_id` projection and its UI
/// link related events. The sealed personal part travels here, base64-encoded,
/// so that `data` stays free of personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// [`Metadata::correlation_id`].
    #[serde(rename = "$correlationId")]
    pub correlation_id: Uuid,
    /// [`Metadata::causation_id`].
    #[serde(
        rename = "$causationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub causation_id: Option<Uuid>,
    /// [`NewEvent::schema_version`].
    pub schema_version: u16,
    /// [`Metadata::command_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// [`Metadata::actor`].
    pub actor: String,
    /// [`Metadata::subjects`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<SubjectId>,
    /// The sealed personal part ([`SealedBox`], base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<SealedBox>,
}

impl EventMetadata {
    fn metadata(&self) -> Metadata {
        Metadata {
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            command_id: self.command_id.clone(),
            actor: self.actor.clone(),
            subjects: self.subjects.clone(),
        }
    }
}

/// An event as it will be proposed to KurrentDB (`EventData::json(event_type,
/// &data).id(event_id).metadata_as_json(&metadata)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Proposed {
    /// KurrentDB's event id: Steward's `event_id`.
    pub event_id: Uuid,
    /// KurrentDB's event type: Steward's `event_type`.
    pub event_type: String,
    /// The event's data.
    pub data: Value,
    /// The event's custom metadata.
    pub metadata: EventMetadata,
}

/// Turns the `index`th event of a batch into KurrentDB's parts. The log only
/// stores sealed personal parts; a plain or erased one is refused.
pub fn propose(index: usize, event: &NewEvent) -> Result<Proposed, StoreError> {
    let personal = match &event.personal {
        None => None,
        Some(Personal::Sealed(sealed)) => Some(sealed.clone()),
        Some(Personal::Plain(_) | Personal::Erased) => {
            return Err(StoreError::InvalidEvent {
                index,
                event_id: event.event_id,
                reason: "the log stores personal parts sealed; seal them through the store".into(),
            });
        }
    };
    let metadata = &event.metadata;
    Ok(Proposed {
        event_id: event.event_id,
        event_type: event.event_type.as_str().to_owned(),
        data: event.data.clone(),
        metadata: EventMetadata {
            correlation_id: metadata.correlation_id,
            causation_id: metadata.causation_id,
            schema_version: event.schema_version,
            command_id: metadata.command_id.clone(),
            actor: metadata.actor.clone(),
            subjects: metadata.subjects.clone(),
            personal,
        },
    })
}

/// A recorded event as KurrentDB returns it, borrowed from the client's
/// `RecordedEvent` (whose stream name cannot be built outside the client).
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    /// The KurrentDB stream name.
    pub stream: &'a str,
    /// The event id.
    pub event_id: Uuid,
    /// Its revision in the stream.
    pub revision: u64,
    /// The event type.
    pub event_type: &'a str,
    /// The data bytes.
    pub data: &'a [u8],
    /// The custom metadata bytes.
    pub custom_metadata: &'a [u8],
    /// Its `$all` position.
    pub position: kurrentdb::Position,
    /// When the server created it (see [`created_at`]).
    pub created: DateTime<Utc>,
}

impl<'a> Raw<'a> {
    /// Borrows the parts of a client record.
    pub fn of(event: &'a kurrentdb::RecordedEvent) -> Self {
        Self {
            stream: event.stream_id(),
            event_id: event.id,
            revision: event.revision,
            event_type: &event.event_type,
            data: &event.data,
            custom_metadata: &event.custom_metadata,
            position: event.position,
            created: created_at(&event.metadata, event.created),
        }
    }
}

fn corrupt(event_id: Uuid, reason: String) -> StoreError {
    StoreError::Corrupt { event_id, reason }
}

/// Rebuilds the recorded envelope; the personal part stays sealed.
pub fn decode(names: &StreamNames, raw: &Raw<'_>) -> Result<RecordedEvent, StoreError> {
    let id = raw.event_id;
    let stream_id = names.steward(raw.stream).ok_or_else(|| {
        corrupt(
            id,
            format!(
                "stream `{}` is not a Steward stream of this store",
                raw.stream
            ),
        )
    })?;
    let event_type =
        EventType::parse(raw.event_type).map_err(|e| corrupt(id, format!("event type: {e}")))?;
    let data: Value =
        serde_json::from_slice(raw.data).map_err(|e| corrupt(id, format!("data: {e}")))?;
    let metadata: EventMetadata = serde_json::from_slice(raw.custom_metadata)
        .map_err(|e| corrupt(id, format!("metadata: {e}")))?;
    let global_position = event_position(id, raw.position)?;
    Ok(RecordedEvent {
        event_id: id,
        stream_id,
        stream_version: raw.revision,
        global_position,
        event_type,
        schema_version: metadata.schema_version,
        data,
        personal: metadata.personal.clone().map(Personal::Sealed),
        metadata: metadata.metadata(),
        recorded_at: raw.created,
    })
}

/// The command id in an event's custom metadata, reading nothing else (for
/// the scan behind `events_of_command`).
pub fn command_id_of(event_id: Uuid, custom_metadata: &[u8]) -> Result<Option<String>, StoreError> {
    #[derive(Deserialize)]
    struct CommandOnly {
        #[serde(default)]
        command_id: Option<String>,
    }
    serde_json::from_slice::<CommandOnly>(custom_metadata)
        .map(|m| m.command_id)
        .map_err(|e| corrupt(event_id, format!("metadata: {e}")))
}

/// When the server created an event, to the 100 ns tick.
///
/// The client's own `created` field drops the sub-second part; the server's
/// `created` metadata entry (ticks of 100 ns since the Unix epoch) keeps it,
/// so that is used when present.
pub fn created_at(metadata: &HashMap<String, String>, fallback: DateTime<Utc>) -> DateTime<Utc> {
    metadata
        .get("created")
        .and_then(|ticks| ticks.parse::<i64>().ok())
        .and_then(|ticks| {
            let seconds = ticks.div_euclid(10_000_000);
            let nanos = u32::try_from(ticks.rem_euclid(10_000_000) * 100).ok()?;
            DateTime::from_timestamp(seconds, nanos)
        })
        .unwrap_or(fallback)
}

/// How Steward streams are named in KurrentDB.
///
/// Without a namespace a stream keeps its Steward name, `<category>-<id>`,
/// which is KurrentDB's own convention (so `$ce-<category>` works). With a
/// namespace `ns` it becomes `ns.<category>-<id>` (category `ns.<category>`
/// to KurrentDB), so that several Steward stores, or test runs, share one
/// server without seeing each other. A namespace is letters, digits and `_`;
/// because a Steward category never holds a `.`, a store without a namespace
/// never claims a namespaced stream either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamNames {
    prefix: String,
}

/// A namespace that breaks its grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("namespace `{0}` is invalid: use 1 to {MAX_NAMESPACE_LEN} ASCII letters, digits or `_`")]
pub struct NamespaceError(String);

const MAX_NAMESPACE_LEN: usize = 64;

impl StreamNames {
    /// Names in `namespace`, or as-is without one.
    pub fn new(namespace: Option<&str>) -> Result<Self, NamespaceError> {
        let prefix = match namespace {
            None => String::new(),
            Some(ns)
                if !ns.is_empty()
                    && ns.len() <= MAX_NAMESPACE_LEN
                    && ns.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                format!("{ns}.")
            }
            Some(ns) => return Err(NamespaceError(ns.to_owned())),
        };
        Ok(Self { prefix })
    }

    /// The KurrentDB stream of a Steward stream.
    pub fn kurrent(&self, stream: &StreamId) -> String {
        format!("{}{}", self.prefix, stream.as_str())
    }

    /// The Steward stream of a KurrentDB stream, or `None` if the stream is
    /// not one of this store's (a system stream, another namespace, a foreign
    /// application's).
    pub fn steward(&self, name: &str) -> Option<StreamId> {
        if name.starts_with('$') {
            return None;
        }
        StreamId::parse(name.strip_prefix(self.prefix.as_str())?).ok()
    }

    /// Whether an event of `event_type` in stream `name` is one of this
    /// store's: system events (`$`-prefixed types, such as links and stream
    /// metadata, or `$`-prefixed streams) never are.
    pub fn owns(&self, name: &str, event_type: &str) -> Option<StreamId> {
        if event_type.starts_with('$') {
            return None;
        }
        self.steward(name)
    }

    /// The server-side filter for reading this store's events from `$all`:
    /// the namespace prefix, or "no system streams" without one. Results are
    /// still checked with [`StreamNames::owns`].
    pub fn filter(&self) -> SubscriptionFilter {
        if self.prefix.is_empty() {
            SubscriptionFilter::on_stream_name().exclude_system_events()
        } else {
            SubscriptionFilter::on_stream_name().add_prefix(&self.prefix)
        }
    }
}

/// Steward's position of a KurrentDB `$all` position; `None` when the server
/// did not report one (it sends `u64::MAX` for "unknown").
pub fn position(position: kurrentdb::Position) -> Option<Position> {
    (position.commit != u64::MAX && position.prepare != u64::MAX)
        .then(|| Position::commit_prepare(position.commit, position.prepare))
}

/// An event's position, which the server must have reported.
pub fn event_position(
    event_id: Uuid,
    reported: kurrentdb::Position,
) -> Result<Position, StoreError> {
    position(reported).ok_or_else(|| {
        corrupt(
            event_id,
            "KurrentDB did not report its $all position (a server older than 22.6?)".into(),
        )
    })
}

/// Where to start reading `$all` forwards to find the events after `after`.
///
/// KurrentDB returns events at or after the position it is given, and
/// repositions its log reader on the commit part, which must be the start of
/// a record. So the read starts at `after` itself with the prepare part
/// capped at the commit part (KurrentDB refuses a prepare beyond the commit,
/// and a real event never has one), and [`is_after`] drops what comes back
/// at or before `after`. Every position Steward hands out is an event's
/// position, its [`Position::predecessor`] or [`Position::ORIGIN`], whose
/// commit parts all start records.
pub fn read_all_start(after: Position) -> StreamPosition<kurrentdb::Position> {
    if after == Position::ORIGIN {
        return StreamPosition::Start;
    }
    StreamPosition::Position(kurrentdb::Position {
        commit: after.commit(),
        prepare: after.prepare().min(after.commit()),
    })
}

/// Whether an event at `position` comes strictly after `after`
/// ([`Position::ORIGIN`] comes before every event).
pub fn is_after(position: Position, after: Position) -> bool {
    after == Position::ORIGIN || position > after
}

/// KurrentDB's stream state for Steward's expected version.
pub fn stream_state(expected: ExpectedVersion) -> StreamState {
    match expected {
        ExpectedVersion::Any => StreamState::Any,
        ExpectedVersion::NoStream => StreamState::NoStream,
        ExpectedVersion::StreamExists => StreamState::StreamExists,
        ExpectedVersion::Exact(version) => StreamState::StreamRevision(version),
    }
}

/// The stream's last version as KurrentDB reports it in a conflict.
pub fn current_version(current: CurrentRevision) -> Option<u64> {
    match current {
        CurrentRevision::Current(version) => Some(version),
        CurrentRevision::NoStream => None,
    }
}

/// How far back a stream must be searched for events carrying these ids.
///
/// Steward's event ids are UUIDv7s minted by the writer just before it
/// appends, so an event with id `x` was created by the server no earlier than
/// `x`'s timestamp less the clock difference between writer and server. The
/// search can stop at the first event created before the oldest id's time
/// less `max_clock_skew`. `None` (search the whole stream) when an id carries
/// no timestamp (not a v1, v6 or v7 UUID).
pub fn retry_scan_floor(ids: &[Uuid], max_clock_skew: Duration) -> Option<DateTime<Utc>> {
    let mut oldest: Option<DateTime<Utc>> = None;
    for id in ids {
        let (seconds, nanos) = id.get_timestamp()?.to_unix();
        let time = DateTime::from_timestamp(i64::try_from(seconds).ok()?, nanos)?;
        oldest = Some(oldest.map_or(time, |o| o.min(time)));
    }
    let skew = chrono::Duration::from_std(max_clock_skew).ok()?;
    oldest?.checked_sub_signed(skew)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use steward_events::EventType;

    fn subject(name: &str) -> SubjectId {
        SubjectId::parse(name).expect("valid")
    }

    fn full_event() -> NewEvent {
        let mut event = NewEvent::new(
            EventType::parse("MessageReceived").expect("valid"),
            json!({ "n": 1, "nested": { "list": [1, 2.5, null, "x"] } }),
        )
        .with_schema_version(3)
        .with_metadata(Metadata {
            correlation_id: Uuid::now_v7(),
            causation_id: Some(Uuid::now_v7()),
            command_id: Some("cmd-42".into()),
            actor: "user:alice".into(),
            subjects: vec![subject("person-zq"), subject("person-owner")],
        });
        event.personal = Some(Personal::Sealed(SealedBox(vec![0, 1, 2, 250, 255])));
        event
    }

    /// Serialises proposed parts as the client sends them, and reads them
    /// back as the server returns them.
    fn round_trip(
        names: &StreamNames,
        stream: &StreamId,
        event: &NewEvent,
    ) -> (RecordedEvent, Proposed) {
        let proposed = propose(0, event).expect("proposes");
        let data = serde_json::to_vec(&proposed.data).expect("data");
        let metadata = serde_json::to_vec(&proposed.metadata).expect("metadata");
        let name = names.kurrent(stream);
        let created = DateTime::from_timestamp(1_764_000_000, 123_456_700).expect("time");
        let raw = Raw {
            stream: &name,
            event_id: proposed.event_id,
            revision: 7,
            event_type: &proposed.event_type,
            data: &data,
            custom_metadata: &metadata,
            position: kurrentdb::Position {
                commit: 900,
                prepare: 880,
            },
            created,
        };
        (decode(names, &raw).expect("decodes"), proposed)
    }

    #[test]
    fn an_event_round_trips_exactly() {
        let names = StreamNames::new(None).expect("names");
        let stream = StreamId::parse("inbox-zq").expect("valid");
        let event = full_event();
        let (recorded, proposed) = round_trip(&names, &stream, &event);
        assert_eq!(proposed.event_id, event.event_id);
        assert_eq!(proposed.event_type, "MessageReceived");
        assert_eq!(
            recorded,
            RecordedEvent {
                event_id: event.event_id,
                stream_id: stream,
                stream_version: 7,
                global_position: Position::commit_prepare(900, 880),
                event_type: event.event_type.clone(),
                schema_version: 3,
                data: event.data.clone(),
                personal: event.personal.clone(),
                metadata: event.metadata.clone(),
                recorded_at: DateTime::from_timestamp(1_764_000_000, 123_456_700).expect("time"),
            }
        );
    }

    #[test]
    fn a_bare_event_round_trips_and_stores_only_what_it_has() {
        let names = StreamNames::new(Some("t1")).expect("names");
        let stream = StreamId::parse("errand-42").expect("valid");
        let event = NewEvent::new(EventType::parse("Noted").expect("valid"), json!({}));
        let (recorded, proposed) = round_trip(&names, &stream, &event);
        assert_eq!(recorded.stream_id, stream);
        assert_eq!(recorded.personal, None);
        assert_eq!(recorded.metadata, event.metadata);
        assert_eq!(recorded.schema_version, 1);
        let metadata = serde_json::to_value(&proposed.metadata).expect("json");
        assert_eq!(
            metadata,
            json!({
                "$correlationId": event.metadata.correlation_id,
                "schema_version": 1,
                "actor": "system:steward",
            })
        );
    }

    #[test]
    fn metadata_uses_kurrentdb_correlation_keys_and_base64_personal() {
        let event = full_event();
        let proposed = propose(0, &event).expect("proposes");
        let metadata = serde_json::to_value(&proposed.metadata).expect("json");
        assert_eq!(
            metadata["$correlationId"],
            json!(event.metadata.correlation_id)
        );
        assert_eq!(
            metadata["$causationId"],
            json!(event.metadata.causation_id.expect("set"))
        );
        assert_eq!(metadata["command_id"], "cmd-42");
        assert_eq!(metadata["subjects"], json!(["person-zq", "person-owner"]));
        assert_eq!(metadata["personal"], "AAEC+v8=");
    }

    #[test]
    fn plain_or_erased_personal_parts_are_refused() {
        let plain = NewEvent::new(EventType::parse("Noted").expect("valid"), json!({}))
            .with_personal(json!({ "name": "Dana" }), vec![subject("person-dana")]);
        let error = propose(4, &plain).expect_err("plain");
        assert!(
            matches!(error, StoreError::InvalidEvent { index: 4, .. }),
            "{error}"
        );
        let mut erased = plain;
        erased.personal = Some(Personal::Erased);
        assert!(propose(0, &erased).is_err());
    }

    #[test]
    fn corrupt_records_name_what_is_wrong() {
        let names = StreamNames::new(None).expect("names");
        let id = Uuid::now_v7();
        let good_metadata =
            serde_json::to_vec(&propose(0, &full_event()).expect("ok").metadata).expect("metadata");
        let raw = |stream, event_type, data: &'static [u8], metadata| Raw {
            stream,
            event_id: id,
            revision: 0,
            event_type,
            data,
            custom_metadata: metadata,
            position: kurrentdb::Position {
                commit: 1,
                prepare: 1,
            },
            created: Utc::now(),
        };
        let reason = |raw: Raw<'_>| match decode(&names, &raw) {
            Err(StoreError::Corrupt { event_id, reason }) => {
                assert_eq!(event_id, id);
                reason
            }
            other => panic!("expected corrupt, got {other:?}"),
        };
        assert!(reason(raw("nodash", "Noted", b"{}", &good_metadata)).contains("stream"));
        assert!(reason(raw("a-1", "bad.type", b"{}", &good_metadata)).contains("event type"));
        assert!(reason(raw("a-1", "Noted", b"{", &good_metadata)).contains("data"));
        assert!(reason(raw("a-1", "Noted", b"{}", b"{}")).contains("metadata"));
        let mut unknown = raw("a-1", "Noted", b"{}", &good_metadata);
        unknown.position = kurrentdb::Position::end();
        assert!(reason(unknown).contains("position"));
    }

    #[test]
    fn command_ids_are_read_alone() {
        let event = full_event();
        let metadata = serde_json::to_vec(&propose(0, &event).expect("ok").metadata).expect("json");
        assert_eq!(
            command_id_of(event.event_id, &metadata).expect("reads"),
            Some("cmd-42".into())
        );
        assert_eq!(
            command_id_of(event.event_id, b"{\"actor\":\"x:y\"}").expect("reads"),
            None
        );
        assert!(command_id_of(event.event_id, b"not json").is_err());
    }

    #[test]
    fn created_keeps_sub_second_ticks() {
        let fallback = DateTime::from_timestamp(5, 0).expect("time");
        let mut metadata = HashMap::new();
        assert_eq!(created_at(&metadata, fallback), fallback);
        metadata.insert("created".to_owned(), "17640000001234567".to_owned());
        assert_eq!(
            created_at(&metadata, fallback),
            DateTime::from_timestamp(1_764_000_000, 123_456_700).expect("time")
        );
        metadata.insert("created".to_owned(), "garbage".to_owned());
        assert_eq!(created_at(&metadata, fallback), fallback);
    }

    #[test]
    fn stream_names_are_as_is_or_namespaced() {
        let plain = StreamNames::new(None).expect("names");
        let ns = StreamNames::new(Some("t_42")).expect("names");
        let stream = StreamId::parse("errand-42").expect("valid");
        assert_eq!(plain.kurrent(&stream), "errand-42");
        assert_eq!(ns.kurrent(&stream), "t_42.errand-42");
        assert_eq!(plain.steward("errand-42"), Some(stream.clone()));
        assert_eq!(ns.steward("t_42.errand-42"), Some(stream.clone()));
        // Each store sees only its own streams.
        assert_eq!(plain.steward("t_42.errand-42"), None);
        assert_eq!(ns.steward("errand-42"), None);
        assert_eq!(ns.steward("t_43.errand-42"), None);
        // System streams and events are never Steward's.
        for system in ["$ce-errand", "$$errand-42", "$all", "$stats-127.0.0.1:2113"] {
            assert_eq!(plain.steward(system), None, "{system}");
        }
        assert_eq!(plain.owns("errand-42", "$>"), None);
        assert_eq!(plain.owns("errand-42", "$metadata"), None);
        assert_eq!(plain.owns("errand-42", "Noted"), Some(stream));
        assert_eq!(plain.steward("not a stream"), None);
    }

    #[test]
    fn namespaces_are_tokens() {
        for bad in [
            "",
            "has.dot",
            "has-dash",
            "has space",
            "$sys",
            &"x".repeat(65),
        ] {
            assert!(StreamNames::new(Some(bad)).is_err(), "{bad}");
        }
        assert!(StreamNames::new(Some("steward_test_0af3")).is_ok());
    }

    #[test]
    fn server_filters_match_the_names() {
        let plain = StreamNames::new(None).expect("names").filter();
        let ns = StreamNames::new(Some("t1")).expect("names").filter();
        assert_eq!(
            format!("{plain:?}"),
            format!(
                "{:?}",
                SubscriptionFilter::on_stream_name().exclude_system_events()
            )
        );
        assert!(format!("{ns:?}").contains("\"t1.\""), "{ns:?}");
    }

    #[test]
    fn positions_map_both_parts_and_reject_unknown() {
        let p = position(kurrentdb::Position {
            commit: 10,
            prepare: 8,
        });
        assert_eq!(p, Some(Position::commit_prepare(10, 8)));
        assert_eq!(position(kurrentdb::Position::end()), None);
        assert_eq!(
            position(kurrentdb::Position {
                commit: 3,
                prepare: u64::MAX
            }),
            None
        );
    }

    #[test]
    fn reads_of_all_start_at_a_record_and_skip_what_is_not_after() {
        assert_eq!(read_all_start(Position::ORIGIN), StreamPosition::Start);
        let event = Position::commit_prepare(500, 500);
        assert_eq!(
            read_all_start(event),
            StreamPosition::Position(kurrentdb::Position {
                commit: 500,
                prepare: 500
            })
        );
        // "From the event inclusive" keeps the event's commit part.
        assert_eq!(
            read_all_start(event.predecessor()),
            StreamPosition::Position(kurrentdb::Position {
                commit: 500,
                prepare: 499
            })
        );
        // A prepare beyond the commit is capped.
        assert_eq!(
            read_all_start(Position::commit_prepare(7, 9)),
            StreamPosition::Position(kurrentdb::Position {
                commit: 7,
                prepare: 7
            })
        );
        assert!(!is_after(event, event), "exclusive");
        assert!(is_after(event, event.predecessor()));
        assert!(is_after(Position::commit_prepare(501, 501), event));
        assert!(
            is_after(Position::ORIGIN, Position::ORIGIN),
            "origin is before all"
        );
    }

    #[test]
    fn expected_versions_map_to_stream_states() {
        assert_eq!(stream_state(ExpectedVersion::Any), StreamState::Any);
        assert_eq!(
            stream_state(ExpectedVersion::NoStream),
            StreamState::NoStream
        );
        assert_eq!(
            stream_state(ExpectedVersion::StreamExists),
            StreamState::StreamExists
        );
        assert_eq!(
            stream_state(ExpectedVersion::Exact(4)),
            StreamState::StreamRevision(4)
        );
        assert_eq!(current_version(CurrentRevision::Current(9)), Some(9));
        assert_eq!(current_version(CurrentRevision::NoStream), None);
    }

    #[test]
    fn retry_scans_reach_back_to_the_oldest_id_less_the_skew() {
        let older = Uuid::now_v7();
        std::thread::sleep(Duration::from_millis(5));
        let newer = Uuid::now_v7();
        let (seconds, nanos) = older.get_timestamp().expect("v7").to_unix();
        let older_time =
            DateTime::from_timestamp(i64::try_from(seconds).expect("fits"), nanos).expect("time");
        let floor = retry_scan_floor(&[newer, older], Duration::from_secs(5)).expect("floor");
        assert_eq!(floor, older_time - chrono::Duration::seconds(5));
        assert_eq!(
            retry_scan_floor(&[newer, Uuid::new_v4()], Duration::from_secs(5)),
            None,
            "an id without a time means the whole stream"
        );
    }

    proptest::proptest! {
        #[test]
        fn a_read_from_the_start_misses_no_event_after_the_cursor(
            commit in 0u64..1_000,
            prepare in 0u64..1_000,
            event_commit in 0u64..1_000,
            event_prepare in 0u64..1_000,
        ) {
            let after = Position::commit_prepare(commit, prepare);
            // A real event's prepare part never exceeds its commit part.
            let event = Position::commit_prepare(event_commit, event_prepare.min(event_commit));
            let start = match read_all_start(after) {
                StreamPosition::Start => Position::ORIGIN,
                StreamPosition::Position(p) => {
                    proptest::prop_assert!(p.prepare <= p.commit, "KurrentDB refuses prepare > commit");
                    proptest::prop_assert_eq!(p.commit, after.commit(), "repositions on the cursor's record");
                    Position::commit_prepare(p.commit, p.prepare)
                }
                StreamPosition::End => panic!("never reads from the end"),
            };
            if event > after {
                proptest::prop_assert!(event >= start, "the server returns it");
                proptest::prop_assert!(is_after(event, after), "and it is kept");
            }
        }
    }
}
