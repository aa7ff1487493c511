//! A remote model the planner may consult when it cannot read a request
//! itself: any OpenAI-compatible chat completions endpoint (a llama.cpp or
//! Ollama server on the network, or a hosted API).
//!
//! Only the request travels, with the list of intents and slot names (no
//! read model, no memory); the answer must name one of Steward's intents,
//! and a slot must be words of the request, or it is not used. Whether a
//! request may be sent at all is [`crate::privacy`]'s decision, and every
//! call is in the egress ledger before it leaves ([`crate::Planner`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{Intent, PlannerError};

/// How long a call may take when not configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The confidence given to a reading whose model did not say.
const UNSTATED_CONFIDENCE: f32 = 0.75;

/// Where the remote model is and how to reach it.
#[derive(Clone)]
pub struct RemoteConfig {
    /// The API's base URL, up to and including its version
    /// (`http://127.0.0.1:8080/v1`); calls go to `<endpoint>/chat/completions`.
    pub endpoint: String,
    /// The model to ask.
    pub model: String,
    /// A bearer key, from the credential vault.
    pub api_key: Option<String>,
    /// How long a call may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<hidden>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A remote model, ready to call.
#[derive(Debug, Clone)]
pub struct RemoteModel {
    config: RemoteConfig,
    client: reqwest::Client,
}

/// What a remote model read in a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteReading {
    /// The intent.
    pub intent: Intent,
    /// The slots it named, by name, as words of the request.
    pub slots: BTreeMap<String, String>,
    /// Its stated confidence, or a modest default.
    pub confidence: f32,
}

impl RemoteModel {
    /// A client for `config`. The endpoint must be an `http(s)` URL with no
    /// user name or password (the key goes in the credential vault); an
    /// error never quotes it.
    pub fn new(config: RemoteConfig) -> Result<Self, PlannerError> {
        let parsed = url::Url::parse(&config.endpoint)
            .map_err(|e| PlannerError::Remote(format!("the endpoint is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(PlannerError::Remote(
                "the endpoint is an http:// or https:// URL".to_owned(),
            ));
        }
        // A key in the URL would be logged, recorded in the ledger and the
        // plans, and shown to whoever asked.
        if !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(PlannerError::Remote(
                "the endpoint is a plain base URL: put the API key in the credential vault, not in the URL"
                    .to_owned(),
            ));
        }
        if config.model.trim().is_empty() {
            return Err(PlannerError::Remote("name the model to ask".to_owned()));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| PlannerError::Remote(format!("the HTTP client: {e}")))?;
        Ok(Self { config, client })
    }

    /// The endpoint, as the ledger records it.
    pub fn endpoint(&self) -> &str {
        self.config.endpoint.trim_end_matches('/')
    }

    /// The model asked.
    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// The body that asks what `request` means, among `intents` and with
    /// the slot names `slots`: exactly what will be sent (and recorded).
    pub fn request_body(&self, request: &str, slots: &[String]) -> Value {
        let intents: Vec<String> = Intent::ALL
            .iter()
            .map(|intent| format!("- {}: {}", intent.label(), intent.description()))
            .collect();
        let instructions = format!(
            "You read requests to a household assistant. Answer with one JSON object: \
             {{\"intent\": <one label below>, \"slots\": {{<slot name>: <the words of the \
             request that fill it>}}, \"confidence\": <0 to 1>}}. Use only these intents:\n{}\n\
             and only these slot names: {}. Copy slot words exactly from the request; leave \
             out a slot the request does not fill.",
            intents.join("\n"),
            slots.join(", ")
        );
        json!({
            "model": self.config.model,
            "temperature": 0,
            "response_format": { "type": "json_object" },
            "messages": [
                { "role": "system", "content": instructions },
                { "role": "user", "content": request },
            ],
        })
    }

    /// Sends `body`; the HTTP status and the answer's JSON, or why there is
    /// none.
    pub async fn send(&self, body: &Value) -> Result<(u16, Value), String> {
        let mut call = self
            .client
            .post(format!("{}/chat/completions", self.endpoint()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(key) = &self.config.api_key {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(|e| {
            // reqwest's message can carry the URL; the kind of failure is
            // what the ledger needs.
            if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                format!("the call failed: {}", e.without_url())
            }
        })?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer: {}", e.without_url()))?;
        let answer = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, answer))
    }
}

/// The reading in a chat completion `answer` to `request`, or why it
/// cannot be used.
pub fn read_answer(request: &str, answer: &Value) -> Result<RemoteReading, String> {
    let content = answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or("the answer has no message")?;
    let reading: Value = serde_json::from_str(content.trim())
        .map_err(|e| format!("the message is not a JSON object: {e}"))?;
    let intent: Intent = reading
        .get("intent")
        .and_then(Value::as_str)
        .ok_or("the message names no intent")?
        .parse()
        .map_err(|e: crate::UnknownIntent| format!("`{}` is not an intent", e.0))?;
    let lowered = request.to_lowercase();
    let slots = reading
        .get("slots")
        .and_then(Value::as_object)
        .map(|slots| {
            slots
                .iter()
                .filter_map(|(name, value)| {
                    let words = value.as_str()?.trim();
                    // A slot is words of the request, never the model's own.
                    (!words.is_empty() && lowered.contains(&words.to_lowercase()))
                        .then(|| (name.clone(), words.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let confidence = reading
        .get("confidence")
        .and_then(Value::as_f64)
        .map_or(UNSTATED_CONFIDENCE, |c| c.clamp(0.0, 1.0) as f32);
    Ok(RemoteReading {
        intent,
        slots,
        confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(content: &str) -> Value {
        json!({ "choices": [{ "message": { "role": "assistant", "content": content } }] })
    }

    #[test]
    fn a_reading_names_an_intent_and_slots_made_of_the_requests_words() {
        let reading = read_answer(
            "Could you get the coffee machine going",
            &answer(
                r#"{"intent":"home.set_device","slots":{"device":"coffee machine","state":"on","room":"kitchen"},"confidence":0.8}"#,
            ),
        )
        .expect("a reading");
        assert_eq!(reading.intent, Intent::SetDevice);
        assert_eq!(
            reading.slots,
            BTreeMap::from([("device".to_owned(), "coffee machine".to_owned())]),
            "`on` and `kitchen` are not the request's words"
        );
        assert!((reading.confidence - 0.8).abs() < 1e-6);
    }

    #[test]
    fn answers_that_cannot_be_used_say_why() {
        for (content, why) in [
            ("not json", "not a JSON object"),
            (r#"{"slots":{}}"#, "names no intent"),
            (r#"{"intent":"home.fly"}"#, "`home.fly` is not an intent"),
        ] {
            let error = read_answer("x", &answer(content)).expect_err(content);
            assert!(error.contains(why), "{content}: {error}");
        }
        assert!(read_answer("x", &json!({"error": "overloaded"})).is_err());
    }

    #[test]
    fn an_endpoint_with_a_key_in_it_is_refused_without_echoing_it() {
        let config = |endpoint: &str| RemoteConfig {
            endpoint: endpoint.to_owned(),
            model: "llama".to_owned(),
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
        };
        let error = RemoteModel::new(config("https://me:sk-secret@api.example/v1"))
            .expect_err("refused")
            .to_string();
        assert!(!error.contains("sk-secret"), "{error}");
        let error = RemoteModel::new(config("https://api.example/v1?key=sk-secret"))
            .expect_err("refused")
            .to_string();
        assert!(!error.contains("sk-secret"), "{error}");
        let shown = format!(
            "{:?}",
            RemoteModel::new(RemoteConfig {
                api_key: Some("sk-secret".to_owned()),
                ..config("http://127.0.0.1:8080/v1")
            })
            .expect("a model")
        );
        assert!(!shown.contains("sk-secret"), "{shown}");
        assert!(RemoteModel::new(config("ftp://api.example/v1")).is_err());
        assert!(RemoteModel::new(config("http://127.0.0.1:8080/v1/")).is_ok());
    }
}
