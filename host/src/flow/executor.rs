//! The executor: runs a flow execution one stage at a time. It enforces the
//! order of the plan (an answer must name the current stage and version, so
//! no stage can be skipped or replayed), saves every step with an optimistic
//! version check (two tabs cannot both advance), and records denials with
//! the policy decisions behind them.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::challenge::{Answer, Challenge, FieldError, Message};
use super::context::{FlowContext, FlowRequest};
use super::execution::{Execution, ExecutionState, LIFETIME_MS};
use super::plan::{self, Planned};
use super::{Flow, FlowError, InvalidResponse, StageBinding, is_local_path};
use crate::event::{AuditContext, Event, Outcome};
use crate::identity::Directory;
use crate::mail::Mailer;
use crate::policy::{self, PolicyDecision, PolicyRequest};
use crate::stage::{Effect, StageEnv, StageOutcome, StageStep};
use crate::store;
use crate::token::secret_hash;

/// Where a browser goes when a flow completes without a `next`.
pub const DEFAULT_NEXT: &str = "/if/user/";

/// What the user sees next.
#[derive(Debug)]
pub enum FlowStep {
    /// A question.
    Challenge(Challenge),
    /// The flow is over; go here.
    Redirect(String),
    /// The flow stopped with this message.
    Denied(String),
}

/// A step and the browser effects (session cookie) that come with it.
#[derive(Debug)]
pub struct StepResult {
    /// What to show.
    pub step: FlowStep,
    /// What to do to the browser.
    pub effects: Vec<Effect>,
}

impl StepResult {
    fn new(step: FlowStep, effects: Vec<Effect>) -> Self {
        StepResult { step, effects }
    }
}

/// Runs flows.
#[derive(Clone, Debug)]
pub struct Flows {
    directory: Directory,
    mailer: Mailer,
    public_url: Arc<str>,
}

impl Flows {
    /// An executor over `directory`, sending mail with `mailer`.
    pub fn new(directory: Directory, mailer: Mailer, public_url: Arc<str>) -> Self {
        Flows {
            directory,
            mailer,
            public_url,
        }
    }

    /// The directory underneath.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The current step of this browser's run of `slug`, starting a run
    /// when there is none. `next` (a local path) is where a new run sends
    /// the browser when it completes.
    ///
    /// # Errors
    /// Unknown flow, not allowed, or a store failure.
    pub async fn current(
        &self,
        slug: &str,
        request: &FlowRequest,
        next: Option<&str>,
    ) -> Result<StepResult, FlowError> {
        let flow = self.flow(slug).await?;
        match self.find(&flow, request).await? {
            Some(execution) => {
                self.advance(&flow, execution, request, Vec::new(), None, false)
                    .await
            }
            None => self.start(&flow, request, next).await,
        }
    }

    /// Throws away this browser's run of `slug` and starts again.
    ///
    /// # Errors
    /// Unknown flow, not allowed, or a store failure.
    pub async fn restart(
        &self,
        slug: &str,
        request: &FlowRequest,
        next: Option<&str>,
    ) -> Result<StepResult, FlowError> {
        let flow = self.flow(slug).await?;
        if let Some(execution) = self.find(&flow, request).await? {
            let next = execution.state.context.next.clone();
            self.delete(execution.id).await?;
            return self.start(&flow, request, next.as_deref()).await;
        }
        self.start(&flow, request, next).await
    }

    /// Consumes an answer to the current challenge.
    ///
    /// # Errors
    /// No run in this browser (`ExecutionGone`), an answer for another stage
    /// or an older version (`Stale`), or a store failure.
    pub async fn answer(
        &self,
        slug: &str,
        request: &FlowRequest,
        answer: &Answer,
    ) -> Result<StepResult, FlowError> {
        let flow = self.flow(slug).await?;
        let Some(mut execution) = self.find(&flow, request).await? else {
            return Err(FlowError::ExecutionGone);
        };
        let planned = execution.state.plan.get(execution.state.position);
        let is_current = planned.is_some_and(|planned| planned.binding == answer.stage);
        if !is_current || answer.version != execution.version {
            return Err(FlowError::Stale);
        }
        let Some(binding) = flow
            .bindings
            .iter()
            .find(|binding| binding.id == answer.stage)
        else {
            return Err(FlowError::Stale);
        };
        // Claim this version before the stage runs, so that one answer sent
        // twice at once (a double click, a replay racing the original) is
        // consumed once: the second claim finds a newer version.
        let claimed = execution.version;
        execution.version += 1;
        self.save(&execution, claimed).await?;
        let env = self.env(&flow, &execution, binding.id, request);
        let outcome = binding
            .stage
            .answer(&env, &mut execution.state.context, answer)
            .await?;
        match outcome {
            StageOutcome::Continue(effects) => {
                execution.state.position += 1;
                self.advance(&flow, execution, request, effects, None, true)
                    .await
            }
            StageOutcome::Retry(errors) if binding.invalid_response == InvalidResponse::Restart => {
                let next = execution.state.context.next.clone();
                self.delete(execution.id).await?;
                let mut restarted = self.start(&flow, request, next.as_deref()).await?;
                if let FlowStep::Challenge(challenge) = &mut restarted.step {
                    challenge.messages.extend(
                        errors
                            .into_iter()
                            .map(|error| Message::error(error.message)),
                    );
                }
                Ok(restarted)
            }
            StageOutcome::Retry(errors) | StageOutcome::RetryPrevious(errors) => {
                self.advance(&flow, execution, request, Vec::new(), Some(errors), true)
                    .await
            }
            StageOutcome::Deny(message) => {
                self.deny(&flow, execution, request, message, Vec::new())
                    .await
            }
            StageOutcome::Redirect(to) => {
                self.delete(execution.id).await?;
                Ok(StepResult::new(FlowStep::Redirect(to), Vec::new()))
            }
        }
    }

    /// Opens a one-time link: moves its run to this browser, marks the
    /// waiting stage as confirmed, and returns the flow's slug.
    ///
    /// # Errors
    /// An unknown, used or expired link (`ExecutionGone`), or a store
    /// failure.
    pub async fn resume(&self, link: &str, request: &FlowRequest) -> Result<String, FlowError> {
        let now = self.directory.clock().now();
        let mut tx = self.directory.store().begin().await?;
        let Some(mut execution) =
            store::executions::consume_token(tx.conn(), &secret_hash(link), now).await?
        else {
            return Err(FlowError::ExecutionGone);
        };
        let browser = secret_hash(&request.browser);
        store::executions::rebind(
            tx.conn(),
            execution.id,
            &execution.slug,
            &browser,
            now + LIFETIME_MS,
        )
        .await?;
        if let Some(planned) = execution.state.plan.get(execution.state.position) {
            let binding = planned.binding;
            execution
                .state
                .context
                .set_stage_state(binding, json!({ "confirmed": true }));
        }
        let loaded = execution.version;
        execution.version += 1;
        if !store::executions::update(tx.conn(), &execution, loaded, now + LIFETIME_MS).await? {
            return Err(FlowError::Stale);
        }
        tx.commit().await?;
        Ok(execution.slug)
    }

    async fn flow(&self, slug: &str) -> Result<Flow, FlowError> {
        let mut conn = self.directory.store().conn().await?;
        store::flows::load(&mut conn, slug)
            .await?
            .ok_or_else(|| FlowError::UnknownFlow(slug.to_owned()))
    }

    async fn find(
        &self,
        flow: &Flow,
        request: &FlowRequest,
    ) -> Result<Option<Execution>, FlowError> {
        let now = self.directory.clock().now();
        let mut conn = self.directory.store().conn().await?;
        let found =
            store::executions::find(&mut conn, &secret_hash(&request.browser), &flow.slug, now)
                .await?;
        // A run planned for an older version of the flow starts again.
        Ok(found.filter(|execution| execution.state.flow == flow.id))
    }

    async fn delete(&self, id: Uuid) -> Result<(), FlowError> {
        let mut conn = self.directory.store().conn().await?;
        store::executions::delete(&mut conn, id).await?;
        Ok(())
    }

    async fn start(
        &self,
        flow: &Flow,
        request: &FlowRequest,
        next: Option<&str>,
    ) -> Result<StepResult, FlowError> {
        let plan = match plan::plan(&self.directory, flow, request).await? {
            Planned::Plan(plan) => plan,
            Planned::Denied {
                messages,
                decisions,
            } => {
                let message = denial_text(&messages);
                self.record_denial(flow, None, request, &message, &decisions)
                    .await?;
                return Ok(StepResult::new(FlowStep::Denied(message), Vec::new()));
            }
        };
        let context = FlowContext {
            next: next.filter(|next| is_local_path(next)).map(str::to_owned),
            ..FlowContext::default()
        };
        let execution = Execution {
            id: Uuid::new_v4(),
            slug: flow.slug.clone(),
            state: ExecutionState {
                flow: flow.id,
                plan,
                position: 0,
                context,
            },
            version: 0,
        };
        let now = self.directory.clock().now();
        let mut conn = self.directory.store().conn().await?;
        store::executions::insert(
            &mut conn,
            &execution,
            &secret_hash(&request.browser),
            now,
            now + LIFETIME_MS,
        )
        .await?;
        drop(conn);
        self.advance(flow, execution, request, Vec::new(), None, false)
            .await
    }

    /// Runs stages from the current position until one asks a question or
    /// the flow ends, then saves the run. `errors` belong to the current
    /// stage's previous answer.
    async fn advance(
        &self,
        flow: &Flow,
        mut execution: Execution,
        request: &FlowRequest,
        mut effects: Vec<Effect>,
        errors: Option<Vec<FieldError>>,
        force_save: bool,
    ) -> Result<StepResult, FlowError> {
        let loaded = execution.version;
        // A page load that changes nothing keeps the version, so viewing a
        // step (a reload, a second tab) does not make an open form stale.
        let original = serde_json::to_string(&execution.state).ok();
        loop {
            let Some(planned) = execution.state.plan.get(execution.state.position).cloned() else {
                return self.finish(execution, effects).await;
            };
            let Some(binding) = flow
                .bindings
                .iter()
                .find(|binding| binding.id == planned.binding)
            else {
                execution.state.position += 1;
                continue;
            };
            if planned.check_before_show
                && !self
                    .binding_passes(flow, binding, &execution, request)
                    .await?
            {
                execution.state.position += 1;
                continue;
            }
            let env = self.env(flow, &execution, binding.id, request);
            let step = binding
                .stage
                .show(&env, &mut execution.state.context)
                .await?;
            match step {
                StageStep::Show(mut challenge) => {
                    let changed = serde_json::to_string(&execution.state).ok() != original;
                    if force_save || changed || errors.is_some() {
                        execution.version = loaded + 1;
                        self.save(&execution, loaded).await?;
                    }
                    challenge.stage = binding.id;
                    challenge.version = execution.version;
                    if let Some(errors) = &errors {
                        challenge = challenge.with_errors(errors);
                    }
                    return Ok(StepResult::new(FlowStep::Challenge(challenge), effects));
                }
                StageStep::Done(StageOutcome::Continue(more)) => {
                    effects.extend(more);
                    execution.state.position += 1;
                }
                StageStep::Done(StageOutcome::RetryPrevious(previous))
                    if execution.state.position > 0 =>
                {
                    execution.state.position -= 1;
                    return Box::pin(self.advance(
                        flow,
                        execution,
                        request,
                        effects,
                        Some(previous),
                        true,
                    ))
                    .await;
                }
                StageStep::Done(StageOutcome::Retry(_) | StageOutcome::RetryPrevious(_)) => {
                    return Err(FlowError::Misconfigured(format!(
                        "stage {} asked for a retry without a question",
                        binding.stage.name
                    )));
                }
                StageStep::Done(StageOutcome::Deny(message)) => {
                    return self.deny(flow, execution, request, message, effects).await;
                }
                StageStep::Done(StageOutcome::Redirect(to)) => {
                    self.delete(execution.id).await?;
                    return Ok(StepResult::new(FlowStep::Redirect(to), effects));
                }
            }
        }
    }

    async fn binding_passes(
        &self,
        flow: &Flow,
        binding: &StageBinding,
        execution: &Execution,
        request: &FlowRequest,
    ) -> Result<bool, FlowError> {
        let user_id = execution.state.context.pending_user_id().or(request.user);
        let user = match user_id {
            Some(id) => self.directory.user(id).await.ok(),
            None => None,
        };
        let policy_request = PolicyRequest {
            user,
            client_ip: request.client_ip,
            flow: flow.slug.clone(),
            prompt: execution.state.context.prompt.clone(),
        };
        let mut conn = self.directory.store().conn().await?;
        let policies = store::flows::policy_bindings(&mut conn, "binding", binding.id).await?;
        drop(conn);
        let verdict = policy::evaluate(
            &self.directory,
            &policies,
            binding.policy_mode,
            &policy_request,
        )
        .await;
        Ok(verdict.passed)
    }

    async fn save(&self, execution: &Execution, loaded: i64) -> Result<(), FlowError> {
        let now = self.directory.clock().now();
        let mut conn = self.directory.store().conn().await?;
        if store::executions::update(&mut conn, execution, loaded, now + LIFETIME_MS).await? {
            Ok(())
        } else {
            Err(FlowError::Stale)
        }
    }

    async fn finish(
        &self,
        execution: Execution,
        effects: Vec<Effect>,
    ) -> Result<StepResult, FlowError> {
        self.delete(execution.id).await?;
        let next = execution
            .state
            .context
            .next
            .unwrap_or_else(|| DEFAULT_NEXT.to_owned());
        Ok(StepResult::new(FlowStep::Redirect(next), effects))
    }

    async fn deny(
        &self,
        flow: &Flow,
        execution: Execution,
        request: &FlowRequest,
        message: String,
        effects: Vec<Effect>,
    ) -> Result<StepResult, FlowError> {
        self.delete(execution.id).await?;
        let stage = execution
            .state
            .plan
            .get(execution.state.position)
            .and_then(|planned| {
                flow.bindings
                    .iter()
                    .find(|binding| binding.id == planned.binding)
            })
            .map(|binding| binding.stage.name.clone());
        self.record_denial(flow, stage, request, &message, &[])
            .await?;
        Ok(StepResult::new(FlowStep::Denied(message), effects))
    }

    async fn record_denial(
        &self,
        flow: &Flow,
        stage: Option<String>,
        request: &FlowRequest,
        message: &str,
        decisions: &[PolicyDecision],
    ) -> Result<(), FlowError> {
        let actor = request
            .user
            .map_or_else(|| "anonymous".to_owned(), |user| format!("user:{user}"));
        let context = AuditContext {
            actor,
            client_ip: request.client_ip.map(|ip| ip.to_string()),
        };
        let mut event = Event::new(
            &context,
            self.directory.clock().now(),
            "flow.denied",
            Outcome::Denied,
        )
        .target("flow", &flow.slug)
        .detail("message", message)
        .detail(
            "decisions",
            serde_json::to_value(decisions).unwrap_or_default(),
        );
        if let Some(stage) = stage {
            event = event.detail("stage", stage);
        }
        let mut tx = self.directory.store().begin().await?;
        store::events::insert(tx.conn(), &event).await?;
        tx.commit().await?;
        Ok(())
    }

    fn env<'a>(
        &'a self,
        flow: &'a Flow,
        execution: &Execution,
        binding: Uuid,
        request: &'a FlowRequest,
    ) -> StageEnv<'a> {
        StageEnv {
            directory: &self.directory,
            mailer: &self.mailer,
            public_url: &self.public_url,
            flow: &flow.slug,
            execution: execution.id,
            binding,
            request,
        }
    }
}

fn denial_text(messages: &[String]) -> String {
    if messages.is_empty() {
        "Access denied.".to_owned()
    } else {
        messages.join(" ")
    }
}
