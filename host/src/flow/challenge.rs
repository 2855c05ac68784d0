//! Challenges: what a stage asks, as declarative data. The host renders a
//! challenge as an HTML page and serves the same value as JSON to SPAs and
//! native apps; stages (and later plugins) never produce HTML.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// One step shown to the user.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Challenge {
    /// The stage type that asks (`identification`, `password`, `prompt`).
    pub component: String,
    /// The flow binding this challenge belongs to; answers name it.
    pub stage: Uuid,
    /// The flow state this challenge was made for; answers repeat it.
    pub version: i64,
    /// Heading.
    pub title: String,
    /// Messages above the form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// The form fields, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// Label of the submit button; no button when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submit: Option<String>,
    /// Links below the form (sign up, forgot password).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// An image such as a QR code, as a `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
}

/// A message with a level.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// `info`, `success` or `error`.
    pub level: String,
    /// Text.
    pub text: String,
}

impl Message {
    /// An informational message.
    pub fn info(text: impl Into<String>) -> Self {
        Message {
            level: "info".to_owned(),
            text: text.into(),
        }
    }

    /// An error message.
    pub fn error(text: impl Into<String>) -> Self {
        Message {
            level: "error".to_owned(),
            text: text.into(),
        }
    }
}

/// A link.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Link {
    /// Text.
    pub label: String,
    /// Target.
    pub href: String,
}

/// An image.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Image {
    /// Text alternative.
    pub alt: String,
    /// `data:image/...` URL.
    pub src: String,
}

/// The type of a field, which decides its input and its validation.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text.
    #[default]
    Text,
    /// A username.
    Username,
    /// An email address.
    Email,
    /// A password (never echoed back).
    Password,
    /// A one-time code.
    Code,
    /// A yes/no box.
    Checkbox,
    /// One of `choices`.
    Choice,
    /// A value carried along without being shown.
    Hidden,
    /// Text shown, nothing asked.
    Static,
}

/// A choice of a choice field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
pub struct Choice {
    /// Value sent.
    pub value: String,
    /// Text shown.
    pub label: String,
}

/// One form field.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Field {
    /// Name of the value in the answer.
    pub name: String,
    /// Label shown.
    pub label: String,
    /// Type.
    pub kind: FieldKind,
    /// Whether an answer is needed.
    pub required: bool,
    /// The HTML `autocomplete` value (`username`, `current-password`,
    /// `new-password`, `one-time-code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<String>,
    /// Current value (never for passwords).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Placeholder text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Help text under the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Choices of a choice field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    /// What is wrong with the last answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// An error tied to a field (or to the whole form when `field` is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Field name; empty for the whole form.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    /// An error on `field`.
    pub fn on(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// An error on the whole form.
    pub fn form(message: impl Into<String>) -> Self {
        FieldError {
            field: String::new(),
            message: message.into(),
        }
    }
}

impl Challenge {
    /// Attaches errors to their fields, and form-wide ones as messages.
    pub fn with_errors(mut self, errors: &[FieldError]) -> Self {
        for error in errors {
            match self
                .fields
                .iter_mut()
                .find(|field| field.name == error.field)
            {
                Some(field) if !error.field.is_empty() => field.errors.push(error.message.clone()),
                _ => self.messages.push(Message::error(error.message.clone())),
            }
        }
        self
    }
}

/// A user's answer to a challenge.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The `stage` of the challenge answered.
    pub stage: Uuid,
    /// The `version` of the challenge answered.
    pub version: i64,
    /// Field values by name.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
}

impl Answer {
    /// A text value; numbers and booleans are rendered as text.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Bool(flag) => Some(flag.to_string()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }

    /// A checkbox value: true for `true`, `"on"`, `"true"`, `"1"`.
    pub fn flag(&self, name: &str) -> bool {
        match self.values.get(name) {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => matches!(text.as_str(), "on" | "true" | "1" | "yes"),
            _ => false,
        }
    }
}
