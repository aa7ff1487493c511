//! Which requests may leave the machine: a request about health, money or
//! private messages never goes to a remote model, whatever the policy says.
//!
//! The classification is deliberately cautious, since a false "ordinary"
//! leaks and a false "sensitive" only keeps the request local: a request is
//! sensitive if any intent the classifier gives even a small probability
//! belongs to a sensitive domain (the inbox holds private messages;
//! appointments are often medical), if it uses a word of a sensitive
//! subject, or if it carries an e-mail address or a long number (an
//! account, a card, a phone).

use serde::Serialize;

use crate::{Domain, IntentPrediction};

/// How probable an intent must be to count: small, so that a request the
/// classifier half-reads as private is treated as private.
const COUNTS_FROM: f32 = 0.05;

/// Digits in a row that make a number an account's, a card's or a phone's.
const LONG_NUMBER: usize = 8;

/// What a request is, for privacy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Privacy {
    /// Nothing sensitive found: a remote model may see it if configured.
    Ordinary,
    /// It stays on this machine.
    Sensitive {
        /// `health`, `finance` or `private_messages`.
        subject: Sensitivity,
        /// What gave it away, for the audit.
        because: String,
    },
}

impl Privacy {
    /// The class's name as the egress ledger records it.
    pub fn class(&self) -> &'static str {
        match self {
            Privacy::Ordinary => steward_actors::egress::ORDINARY,
            Privacy::Sensitive { subject, .. } => subject.as_str(),
        }
    }
}

/// A subject that stays local.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Health, care, medicine.
    Health,
    /// Money, accounts, taxes.
    Finance,
    /// Mail and messages.
    PrivateMessages,
}

impl Sensitivity {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Health => "health",
            Sensitivity::Finance => "finance",
            Sensitivity::PrivateMessages => "private_messages",
        }
    }
}

const HEALTH: &[&str] = &[
    "doctor",
    "doctors",
    "dr",
    "gp",
    "dentist",
    "dental",
    "clinic",
    "hospital",
    "nurse",
    "therapy",
    "therapist",
    "physio",
    "physiotherapist",
    "psychiatrist",
    "psychologist",
    "counselling",
    "counseling",
    "medication",
    "medicine",
    "medicines",
    "pill",
    "pills",
    "prescription",
    "pharmacy",
    "diagnosis",
    "symptom",
    "symptoms",
    "blood",
    "vaccine",
    "vaccination",
    "surgery",
    "illness",
    "sick",
    "pain",
    "mental",
    "pregnant",
    "pregnancy",
    "test results",
    "checkup",
    "check-up",
    "dermatologist",
    "optician",
    "allergy",
];

const FINANCE: &[&str] = &[
    "bank",
    "banking",
    "salary",
    "payslip",
    "paycheck",
    "invoice",
    "invoices",
    "tax",
    "taxes",
    "loan",
    "mortgage",
    "credit card",
    "debit card",
    "iban",
    "account number",
    "pension",
    "debt",
    "insurance",
    "budget",
    "invest",
    "investment",
    "investments",
    "savings",
    "transfer money",
    "pin",
    "password",
    "rent payment",
];

const PRIVATE_MESSAGES: &[&str] = &[
    "email",
    "emails",
    "e-mail",
    "mail",
    "mails",
    "message",
    "messages",
    "inbox",
    "reply",
    "text from",
    "texts",
    "sms",
    "whatsapp",
    "dm",
    "dms",
    "letter from",
];

/// The privacy class of `request`, whose intents are `intents`.
pub fn classify(request: &str, intents: &IntentPrediction) -> Privacy {
    for ranked in intents.ranked() {
        if ranked.probability < COUNTS_FROM {
            continue;
        }
        let subject = match ranked.intent.domain() {
            Domain::Inbox => Sensitivity::PrivateMessages,
            Domain::Appointments => Sensitivity::Health,
            _ => continue,
        };
        return Privacy::Sensitive {
            subject,
            because: format!(
                "it may be `{}` ({:.0}%)",
                ranked.intent.label(),
                ranked.probability * 100.0
            ),
        };
    }
    let lowered = request.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !(c.is_alphanumeric() || c == '@' || c == '.'))
        .map(|word| word.trim_matches('.'))
        .filter(|word| !word.is_empty())
        .collect();
    for (subject, terms) in [
        (Sensitivity::Health, HEALTH),
        (Sensitivity::Finance, FINANCE),
        (Sensitivity::PrivateMessages, PRIVATE_MESSAGES),
    ] {
        let said = terms.iter().find(|term| {
            if term.contains(' ') {
                contains_phrase(&words, term)
            } else {
                words.iter().any(|word| says(word, term))
            }
        });
        if let Some(term) = said {
            return Privacy::Sensitive {
                subject,
                because: format!("it says \"{term}\""),
            };
        }
    }
    if words
        .iter()
        .any(|word| word.contains('@') && word.contains('.'))
    {
        return Privacy::Sensitive {
            subject: Sensitivity::PrivateMessages,
            because: "it holds an e-mail address".to_owned(),
        };
    }
    let digits_in_a_row = lowered
        .split(|c: char| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '/')))
        .map(|run| run.chars().filter(char::is_ascii_digit).count())
        .max()
        .unwrap_or(0);
    if digits_in_a_row >= LONG_NUMBER {
        return Privacy::Sensitive {
            subject: Sensitivity::Finance,
            because: "it holds a long number (an account, a card, a phone)".to_owned(),
        };
    }
    Privacy::Ordinary
}

/// Whether `word` is `term` or, for a term of four letters or more, one of
/// its forms ("prescriptions", "emailed"): a few words more stay local than
/// need to ("pillow"), which is the cheap way to be wrong.
fn says(word: &str, term: &str) -> bool {
    word == term || (term.len() >= 4 && word.starts_with(term))
}

fn contains_phrase(words: &[&str], phrase: &str) -> bool {
    let phrase: Vec<&str> = phrase.split(' ').collect();
    words.windows(phrase.len()).any(|window| {
        window
            .iter()
            .zip(&phrase)
            .all(|(word, term)| says(word, term))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Intent, RankedIntent};

    fn intents(ranked: &[(Intent, f32)]) -> IntentPrediction {
        IntentPrediction::new(
            ranked
                .iter()
                .map(|(intent, probability)| RankedIntent {
                    intent: *intent,
                    probability: *probability,
                })
                .collect(),
        )
        .expect("intents")
    }

    fn class(request: &str) -> &'static str {
        classify(request, &intents(&[(Intent::OutOfScope, 1.0)])).class()
    }

    #[test]
    fn health_money_and_messages_stay_local() {
        assert_eq!(class("remind me to take my pills at 8"), "health");
        assert_eq!(class("book the dentist for next week"), "health");
        assert_eq!(class("what were my blood test results"), "health");
        assert_eq!(class("pay the mortgage on friday"), "finance");
        assert_eq!(class("how much is left on my credit card"), "finance");
        assert_eq!(class("send 50 to account 12345678"), "finance");
        assert_eq!(class("call 06 12 34 56 78 back"), "finance");
        assert_eq!(class("summarise the e-mail from Dana"), "private_messages");
        assert_eq!(class("forward it to ana@example.org"), "private_messages");
        // Other forms of the words, joined words, numbers written with dots.
        assert_eq!(class("renew my prescriptions"), "health");
        assert_eq!(class("book the doctor-appointment"), "health");
        assert_eq!(class("what loans do we have"), "finance");
        assert_eq!(class("call 06.12.34.56.78"), "finance");
        assert_eq!(class("has Dana emailed yet"), "private_messages");
        assert_eq!(class("any texts from Sam"), "private_messages");
    }

    #[test]
    fn ordinary_requests_may_leave() {
        assert_eq!(class("turn off the living room lights"), "ordinary");
        assert_eq!(class("add oat milk to the shopping list"), "ordinary");
        assert_eq!(class("brew a pot of coffee at 7"), "ordinary");
        // Words inside other words do not count, nor short words as the
        // start of longer ones ("dr" in "drive", "tax" in "taxi").
        assert_eq!(class("dim the hall spotlights"), "ordinary");
        assert_eq!(class("book a taxi to the drive-in"), "ordinary");
    }

    #[test]
    fn a_sensitive_domain_counts_even_as_a_runner_up() {
        let unsure = intents(&[(Intent::SetDevice, 0.80), (Intent::ReplyToMessage, 0.12)]);
        let privacy = classify("let them know", &unsure);
        assert_eq!(privacy.class(), "private_messages", "{privacy:?}");
        let slight = intents(&[(Intent::SetDevice, 0.97), (Intent::ReplyToMessage, 0.03)]);
        assert_eq!(classify("lights off", &slight), Privacy::Ordinary);
    }
}
