//! The prompt stage: asks typed questions (text, email, password with
//! confirmation, checkbox, choice, hidden, static), validates the answers,
//! runs its validation policies over them, and keeps them in the flow
//! context for later stages such as user write.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{StageEnv, StageOutcome, StageStep};
use crate::flow::FlowError;
use crate::flow::challenge::{Answer, Challenge, Choice, Field, FieldError, FieldKind};
use crate::flow::context::FlowContext;
use crate::policy::{self, PolicyMode, PolicyRequest};
use crate::store;

/// One question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptField {
    /// Name of the value (`username`, `email`, `name`, `password`, or an
    /// attribute of your own).
    pub name: String,
    /// Label shown.
    pub label: String,
    /// Type.
    #[serde(default)]
    pub kind: FieldKind,
    /// Whether an answer is needed.
    #[serde(default)]
    pub required: bool,
    /// For passwords: ask twice and compare.
    #[serde(default)]
    pub confirm: bool,
    /// Placeholder text.
    #[serde(default)]
    pub placeholder: Option<String>,
    /// Help text.
    #[serde(default)]
    pub help: Option<String>,
    /// Value shown first (hidden and static fields: the value).
    #[serde(default)]
    pub initial: Option<String>,
    /// Choices of a choice field.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Longest answer in characters.
    #[serde(default = "default_max_length")]
    pub max_length: usize,
}

fn default_max_length() -> usize {
    256
}

/// Settings of a prompt stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptConfig {
    /// Heading.
    #[serde(default = "default_title")]
    pub title: String,
    /// Questions in order.
    pub fields: Vec<PromptField>,
    /// Label of the submit button.
    #[serde(default = "default_submit")]
    pub submit: String,
    /// Names of policies that must all pass over the answers (a password
    /// strength policy, say); their messages become form errors.
    #[serde(default)]
    pub validation_policies: Vec<String>,
}

fn default_title() -> String {
    "Tell us about you".to_owned()
}
fn default_submit() -> String {
    "Continue".to_owned()
}

fn confirm_name(name: &str) -> String {
    format!("{name}_confirm")
}

fn autocomplete(field: &PromptField) -> Option<String> {
    let value = match (field.kind, field.name.as_str()) {
        (FieldKind::Password, _) => "new-password",
        (FieldKind::Username, _) | (_, "username") => "username",
        (FieldKind::Email, _) | (_, "email") => "email",
        (FieldKind::Code, _) => "one-time-code",
        (_, "name") => "name",
        _ => return None,
    };
    Some(value.to_owned())
}

pub(super) async fn show(
    config: &PromptConfig,
    _env: &StageEnv<'_>,
    context: &mut FlowContext,
) -> Result<StageStep, FlowError> {
    let mut fields = Vec::new();
    for question in &config.fields {
        let remembered = context
            .prompt
            .get(&question.name)
            .and_then(Value::as_str)
            .map(str::to_owned);
        let value = match question.kind {
            FieldKind::Password => None,
            FieldKind::Static | FieldKind::Hidden => question.initial.clone(),
            _ => remembered.or_else(|| question.initial.clone()),
        };
        fields.push(Field {
            name: question.name.clone(),
            label: question.label.clone(),
            kind: question.kind,
            required: question.required,
            autocomplete: autocomplete(question),
            value,
            placeholder: question.placeholder.clone(),
            help: question.help.clone(),
            choices: question.choices.clone(),
            errors: Vec::new(),
        });
        if question.kind == FieldKind::Password && question.confirm {
            fields.push(Field {
                name: confirm_name(&question.name),
                label: format!("{} (again)", question.label),
                kind: FieldKind::Password,
                required: question.required,
                autocomplete: Some("new-password".to_owned()),
                ..Field::default()
            });
        }
    }
    Ok(StageStep::Show(Challenge {
        component: "prompt".to_owned(),
        title: config.title.clone(),
        fields,
        submit: Some(config.submit.clone()),
        ..Challenge::default()
    }))
}

pub(super) async fn answer(
    config: &PromptConfig,
    env: &StageEnv<'_>,
    context: &mut FlowContext,
    answer: &Answer,
) -> Result<StageOutcome, FlowError> {
    let mut errors = Vec::new();
    let mut values = serde_json::Map::new();
    for question in &config.fields {
        match check(question, answer) {
            Ok(Some(value)) => {
                values.insert(question.name.clone(), value);
            }
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        keep_typed(config, context, answer);
        return Ok(StageOutcome::Retry(errors));
    }

    let mut merged = context.prompt.clone();
    merged.extend(values.clone());
    let policy_errors = validate(config, env, context, &merged).await?;
    if !policy_errors.is_empty() {
        keep_typed(config, context, answer);
        return Ok(StageOutcome::Retry(policy_errors));
    }
    context.prompt = merged;
    Ok(StageOutcome::next())
}

/// Keeps what the user typed in text fields (never passwords), so the form
/// shown again with errors is not blank.
fn keep_typed(config: &PromptConfig, context: &mut FlowContext, answer: &Answer) {
    let kept = config.fields.iter().filter(|field| {
        !matches!(
            field.kind,
            FieldKind::Password | FieldKind::Hidden | FieldKind::Static | FieldKind::Checkbox
        )
    });
    for field in kept {
        if let Some(text) = answer.text(&field.name) {
            let text: String = text.trim().chars().take(field.max_length).collect();
            context
                .prompt
                .insert(field.name.clone(), Value::String(text));
        }
    }
}

/// Checks one answer; `Ok(None)` for fields that carry no answer.
fn check(question: &PromptField, answer: &Answer) -> Result<Option<Value>, FieldError> {
    let name = question.name.as_str();
    match question.kind {
        FieldKind::Static => return Ok(None),
        FieldKind::Hidden => return Ok(question.initial.clone().map(Value::String)),
        FieldKind::Checkbox => {
            let checked = answer.flag(name);
            if question.required && !checked {
                return Err(FieldError::on(name, "This box must be ticked."));
            }
            return Ok(Some(Value::Bool(checked)));
        }
        _ => {}
    }
    let text = answer.text(name).unwrap_or_default();
    let text = if question.kind == FieldKind::Password {
        text
    } else {
        text.trim().to_owned()
    };
    if text.is_empty() {
        return if question.required {
            Err(FieldError::on(name, "This field is required."))
        } else {
            Ok(None)
        };
    }
    if text.chars().count() > question.max_length {
        return Err(FieldError::on(
            name,
            format!("Use at most {} characters.", question.max_length),
        ));
    }
    if text.chars().any(|c| c.is_control()) {
        return Err(FieldError::on(name, "Control characters are not allowed."));
    }
    match question.kind {
        FieldKind::Email if !looks_like_email(&text) => {
            return Err(FieldError::on(
                name,
                "Enter an address like name@example.org.",
            ));
        }
        FieldKind::Choice if !question.choices.iter().any(|choice| choice.value == text) => {
            return Err(FieldError::on(name, "Pick one of the choices."));
        }
        FieldKind::Password if question.confirm => {
            let again = answer.text(&confirm_name(name)).unwrap_or_default();
            if again != text {
                return Err(FieldError::on(
                    &confirm_name(name),
                    "The passwords do not match.",
                ));
            }
        }
        _ => {}
    }
    Ok(Some(Value::String(text)))
}

fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && !text.contains(char::is_whitespace)
}

async fn validate(
    config: &PromptConfig,
    env: &StageEnv<'_>,
    context: &FlowContext,
    prompt: &serde_json::Map<String, Value>,
) -> Result<Vec<FieldError>, FlowError> {
    if config.validation_policies.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = env.directory.store().conn().await?;
    let mut bindings = Vec::new();
    for (position, name) in config.validation_policies.iter().enumerate() {
        let Some(policy) = store::flows::policy_named(&mut conn, name).await? else {
            return Err(FlowError::Misconfigured(format!(
                "prompt validation policy {name:?} does not exist"
            )));
        };
        bindings.push(policy::PolicyBinding {
            id: policy.id,
            policy,
            position: i64::try_from(position).unwrap_or(i64::MAX),
            negate: false,
            timeout: std::time::Duration::from_secs(5),
            failure_result: false,
            enabled: true,
        });
    }
    drop(conn);
    let user = match context.pending_user_id() {
        Some(id) => env.directory.user(id).await.ok(),
        None => None,
    };
    let request = PolicyRequest {
        user,
        client_ip: env.request.client_ip,
        flow: env.flow.to_owned(),
        prompt: prompt.clone(),
    };
    let verdict = policy::evaluate(env.directory, &bindings, PolicyMode::All, &request).await;
    if verdict.passed {
        return Ok(Vec::new());
    }
    // Attach messages to the password field when there is one.
    let target = config
        .fields
        .iter()
        .find(|field| field.kind == FieldKind::Password)
        .map_or("", |field| field.name.as_str());
    Ok(verdict
        .messages
        .into_iter()
        .map(|message| FieldError::on(target, message))
        .collect())
}
