//! Credentials: given events / when command / then events.

use steward_actors::credentials::{CredentialsCommand, check_credentials};
use steward_actors::testing::{default_now, given};
use steward_events::domain::credentials::{
    CredentialsEvent, CredentialsRemoved, CredentialsSet, CredentialsTested,
};

fn set(kind: &str, endpoint: &str, fields: &[&str]) -> CredentialsCommand {
    CredentialsCommand::RecordCredentialsSet {
        integration: "broker".into(),
        kind: kind.into(),
        endpoint: endpoint.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

fn broker_set() -> CredentialsEvent {
    CredentialsEvent::Set(CredentialsSet {
        integration: "broker".into(),
        kind: "mqtt".into(),
        endpoint: "mqtt://127.0.0.1:1883".into(),
        fields: vec!["password".into(), "username".into()],
    })
}

fn test_result(ok: bool) -> CredentialsCommand {
    CredentialsCommand::RecordCredentialsTest {
        integration: "broker".into(),
        ok,
        detail: "connected".into(),
        latency_ms: 3,
        tested_at: default_now(),
    }
}

#[test]
fn credentials_are_recorded_with_their_fields_sorted_and_never_a_secret() {
    given::<steward_actors::credentials::Credentials>([])
        .when(set(
            "mqtt",
            "mqtt://127.0.0.1:1883",
            &["username", "password", "username"],
        ))
        .then([broker_set()]);
}

#[test]
fn an_endpoint_must_fit_its_kind_and_carry_no_credentials() {
    let scenario = || given::<steward_actors::credentials::Credentials>([]);
    scenario()
        .when(set("mqtt", "http://127.0.0.1:1883", &["password"]))
        .then_rejected("invalid_endpoint");
    scenario()
        .when(set("ftp", "ftp://host", &["password"]))
        .then_rejected("unknown_kind");
    scenario()
        .when(set("caldav", "https://ana:pw@dav.example/", &["password"]))
        .then_rejected("credentials_in_endpoint");
    scenario()
        .when(set("http", "https://api.example/", &["pin"]))
        .then_rejected("invalid_fields");
    scenario()
        .when(set("http", "https://api.example/", &[]))
        .then_rejected("invalid_fields");
    assert!(
        check_credentials(
            "caldav",
            "https://dav.example/u/ana@x/",
            &["password".into()]
        )
        .is_ok(),
        "an @ in the path is not a user name"
    );
}

#[test]
fn only_existing_credentials_are_tested_and_removing_is_idempotent() {
    given::<steward_actors::credentials::Credentials>([])
        .when(test_result(true))
        .then_rejected("no_credentials");
    let state = given::<steward_actors::credentials::Credentials>([broker_set()])
        .when(test_result(false))
        .then_matches(|events| {
            assert!(matches!(
                &events[0],
                CredentialsEvent::Tested(CredentialsTested { ok: false, .. })
            ));
        });
    assert!(
        state.integrations["broker"]
            .last_test
            .as_ref()
            .is_some_and(|t| !t.ok)
    );
    given::<steward_actors::credentials::Credentials>([broker_set()])
        .when(CredentialsCommand::RecordCredentialsRemoved {
            integration: "broker".into(),
        })
        .then([CredentialsEvent::Removed(CredentialsRemoved {
            integration: "broker".into(),
        })]);
    given::<steward_actors::credentials::Credentials>([])
        .when(CredentialsCommand::RecordCredentialsRemoved {
            integration: "broker".into(),
        })
        .then([]);
}
