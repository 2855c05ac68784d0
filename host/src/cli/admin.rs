//! `castellan admin ...`: a client of the admin API with human tables by
//! default and `--output json` for scripts.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use comfy_table::Table;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::api::{
    AddMember, CreateGroup, CreateToken, CreateUser, CreatedToken, ErrorBody, EventQuery,
    EventView, GroupFilterQuery, GroupView, MAX_PAGE, MembershipQuery, Page, TokenQuery, TokenView,
    UpdateGroup, UpdateUser, UserFilterQuery, UserView,
};
use crate::identity::password::ImportedHash;
use crate::identity::user::{UserType, lookup_key};
use crate::token::TokenScope;

/// Connection to the server and output format.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the server.
    #[arg(long, env = "CASTELLAN_URL", default_value = "http://127.0.0.1:9000")]
    pub url: String,
    /// Admin API token.
    #[arg(long, env = "CASTELLAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
    /// What to manage.
    #[command(subcommand)]
    pub resource: Resource,
}

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns for people.
    Table,
    /// The API's JSON.
    Json,
}

/// Resources the admin client manages.
#[derive(Debug, Subcommand)]
pub enum Resource {
    /// Users.
    #[command(subcommand)]
    Users(UserCommand),
    /// Groups and memberships.
    #[command(subcommand)]
    Groups(GroupCommand),
    /// API tokens.
    #[command(subcommand)]
    Tokens(TokenCommand),
    /// The audit log.
    #[command(subcommand)]
    Events(EventCommand),
}

/// User commands. A USER is a username or an id.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users.
    List {
        /// Only usernames containing this.
        #[arg(long)]
        username: Option<String>,
        /// Only emails containing this.
        #[arg(long)]
        email: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Cursor from the previous page.
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one user.
    Get {
        /// Username or id.
        user: String,
    },
    /// Create a user.
    Create {
        /// Username of the new user.
        username: String,
        /// Fields to set.
        #[command(flatten)]
        fields: UserFields,
    },
    /// Change a user.
    Update {
        /// Username or id.
        user: String,
        /// New username.
        #[arg(long)]
        rename: Option<String>,
        /// Remove the email address.
        #[arg(long, conflicts_with = "email")]
        no_email: bool,
        /// Fields to change.
        #[command(flatten)]
        fields: UserFields,
    },
    /// Deactivate or activate a user.
    SetActive {
        /// Username or id.
        user: String,
        /// true or false.
        #[arg(action = clap::ArgAction::Set)]
        active: bool,
    },
    /// Delete a user.
    Delete {
        /// Username or id.
        user: String,
    },
    /// Groups of a user.
    Groups {
        /// Username or id.
        user: String,
        /// Include groups above through nesting.
        #[arg(long)]
        effective: bool,
    },
}

/// Fields of a user for create and update.
#[derive(Debug, Args)]
pub struct UserFields {
    /// Email address.
    #[arg(long)]
    pub email: Option<String>,
    /// Mark the email as verified.
    #[arg(long)]
    pub email_verified: bool,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Account type.
    #[arg(long, value_enum)]
    pub r#type: Option<UserTypeArg>,
    /// Password (visible in the process list; prefer --password-stdin).
    #[arg(long, conflicts_with_all = ["password_stdin", "password_hash"])]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long, conflicts_with = "password_hash")]
    pub password_stdin: bool,
    /// A hash from another system (PHC, bcrypt, Django) or a Keycloak
    /// credential as JSON.
    #[arg(long)]
    pub password_hash: Option<String>,
    /// Attributes as a JSON object.
    #[arg(long)]
    pub attributes: Option<String>,
}

/// Account types on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum UserTypeArg {
    /// A person managed here.
    Internal,
    /// A person from an upstream source.
    External,
    /// A machine.
    ServiceAccount,
}

impl From<UserTypeArg> for UserType {
    fn from(arg: UserTypeArg) -> Self {
        match arg {
            UserTypeArg::Internal => UserType::Internal,
            UserTypeArg::External => UserType::External,
            UserTypeArg::ServiceAccount => UserType::ServiceAccount,
        }
    }
}

/// Group commands. A GROUP is a name or an id.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List groups.
    List {
        /// Only names containing this.
        #[arg(long)]
        name: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Cursor from the previous page.
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one group.
    Get {
        /// Name or id.
        group: String,
    },
    /// Create a group.
    Create {
        /// Name.
        name: String,
        /// Parent group (name or id).
        #[arg(long)]
        parent: Option<String>,
        /// Attributes as a JSON object.
        #[arg(long)]
        attributes: Option<String>,
    },
    /// Rename or move a group.
    Update {
        /// Name or id.
        group: String,
        /// New name.
        #[arg(long)]
        rename: Option<String>,
        /// New parent (name or id).
        #[arg(long, conflicts_with = "no_parent")]
        parent: Option<String>,
        /// Move to the top level.
        #[arg(long)]
        no_parent: bool,
    },
    /// Delete a group.
    Delete {
        /// Name or id.
        group: String,
    },
    /// List members.
    Members {
        /// Name or id.
        group: String,
        /// Include members of nested groups.
        #[arg(long)]
        effective: bool,
    },
    /// Add a user to a group.
    AddMember {
        /// Group name or id.
        group: String,
        /// Username or id.
        user: String,
    },
    /// Remove a user from a group.
    RemoveMember {
        /// Group name or id.
        group: String,
        /// Username or id.
        user: String,
    },
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List tokens.
    List {
        /// Only this user's (username or id).
        #[arg(long)]
        user: Option<String>,
    },
    /// Create a token; prints its secret once.
    Create {
        /// Label.
        name: String,
        /// Owner (username or id); yourself by default.
        #[arg(long)]
        user: Option<String>,
        /// Grant the admin API (owner must be an admin).
        #[arg(long)]
        admin: bool,
        /// Expiry as an RFC 3339 time.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Revoke a token.
    Revoke {
        /// Token id.
        id: Uuid,
    },
}

/// Event commands.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// List events, newest first.
    List {
        /// Only this action.
        #[arg(long)]
        action: Option<String>,
        /// Only about this target id.
        #[arg(long)]
        target: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
    },
}

/// Runs one admin command and prints its result.
///
/// # Errors
/// No token, an unreachable server, or an error answer from the API.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let Some(token) = args.token.clone() else {
        bail!("no admin token: pass --token or set CASTELLAN_TOKEN");
    };
    let client = Client {
        http: reqwest::Client::new(),
        base: format!("{}/api/v1", args.url.trim_end_matches('/')),
        token: SecretString::from(token),
    };
    let output = args.output;
    match args.resource {
        Resource::Users(command) => users(&client, output, command).await,
        Resource::Groups(command) => groups(&client, output, command).await,
        Resource::Tokens(command) => tokens(&client, output, command).await,
        Resource::Events(command) => events(&client, output, command).await,
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl Client {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<Option<T>> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        finish(request).await
    }

    /// `GET path` with a query built from one of the API's query types.
    async fn list<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> anyhow::Result<T> {
        finish(self.request(Method::GET, path).query(query))
            .await?
            .context("empty response")
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call::<(), T>(Method::GET, path, None)
            .await?
            .context("empty response")
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(method, path, Some(body))
            .await?
            .context("empty response")
    }

    async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.call::<(), serde_json::Value>(Method::DELETE, path, None)
            .await
            .map(drop)
    }

    /// A username or id to a user id.
    async fn user_id(&self, user: &str) -> anyhow::Result<Uuid> {
        if let Ok(id) = Uuid::parse_str(user) {
            return Ok(id);
        }
        let query = UserFilterQuery {
            username: Some(user.to_owned()),
            limit: Some(MAX_PAGE),
            ..Default::default()
        };
        let page: Page<UserView> = self.list("/users", &query).await?;
        page.items
            .iter()
            .find(|found| lookup_key(&found.username) == lookup_key(user))
            .map(|found| found.id)
            .with_context(|| format!("no user named {user:?}"))
    }

    /// A group name or id to a group id.
    async fn group_id(&self, group: &str) -> anyhow::Result<Uuid> {
        if let Ok(id) = Uuid::parse_str(group) {
            return Ok(id);
        }
        let query = GroupFilterQuery {
            name: Some(group.to_owned()),
            limit: Some(MAX_PAGE),
            ..Default::default()
        };
        let page: Page<GroupView> = self.list("/groups", &query).await?;
        page.items
            .iter()
            .find(|found| lookup_key(&found.name) == lookup_key(group))
            .map(|found| found.id)
            .with_context(|| format!("no group named {group:?}"))
    }
}

/// Sends a request and reads the API's answer: `None` for 204, the error
/// body's code and message for a failure.
async fn finish<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> anyhow::Result<Option<T>> {
    let (client, request) = request.build_split();
    let request = request.context("invalid request")?;
    let url = request.url().clone();
    let response = client
        .execute(request)
        .await
        .with_context(|| format!("cannot reach {}", url.origin().ascii_serialization()))?;
    let status = response.status();
    if status == StatusCode::NO_CONTENT {
        return Ok(None);
    }
    let bytes = response.bytes().await.context("cannot read the response")?;
    if !status.is_success() {
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => bail!(
                "{} ({}): {}",
                body.error.code,
                status.as_u16(),
                body.error.message
            ),
            Err(_) => bail!("the server answered {status}"),
        }
    }
    Ok(Some(
        serde_json::from_slice(&bytes).context("unexpected response")?,
    ))
}

fn print<T: Serialize>(
    output: Output,
    value: &T,
    table: impl FnOnce() -> Table,
) -> anyhow::Result<()> {
    match output {
        Output::Json => crate::say!("{}", serde_json::to_string_pretty(value)?),
        Output::Table => crate::say!("{}", table()),
    }
    Ok(())
}

fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table
}

fn user_rows(users: &[UserView]) -> Table {
    table(
        &["ID", "USERNAME", "EMAIL", "NAME", "TYPE", "ACTIVE"],
        users.iter().map(|user| {
            vec![
                user.id.to_string(),
                user.username.clone(),
                user.email.clone().unwrap_or_default(),
                user.display_name.clone(),
                serde_json::to_value(user.user_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                user.active.to_string(),
            ]
        }),
    )
}

fn group_rows(groups: &[GroupView]) -> Table {
    table(
        &["ID", "NAME", "PARENT"],
        groups.iter().map(|group| {
            vec![
                group.id.to_string(),
                group.name.clone(),
                group.parent.map(|id| id.to_string()).unwrap_or_default(),
            ]
        }),
    )
}

fn token_rows(tokens: &[TokenView]) -> Table {
    table(
        &["ID", "NAME", "USER", "SCOPE", "EXPIRES", "REVOKED"],
        tokens.iter().map(|token| {
            vec![
                token.id.to_string(),
                token.name.clone(),
                token.user.to_string(),
                token.scope.as_str().to_owned(),
                token
                    .expires_at
                    .clone()
                    .unwrap_or_else(|| "never".to_owned()),
                token.revoked_at.clone().unwrap_or_default(),
            ]
        }),
    )
}

fn parse_attributes(
    text: Option<&str>,
) -> anyhow::Result<Option<serde_json::Map<String, serde_json::Value>>> {
    text.map(|text| serde_json::from_str(text).context("--attributes must be a JSON object"))
        .transpose()
}

fn read_password(fields: &UserFields) -> anyhow::Result<Option<SecretString>> {
    if fields.password_stdin {
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .context("cannot read the password")?;
        let password = password.trim_end_matches(['\r', '\n']).to_owned();
        return Ok(Some(SecretString::from(password)));
    }
    Ok(fields.password.clone().map(SecretString::from))
}

fn parse_hash(text: Option<&str>) -> anyhow::Result<Option<ImportedHash>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).context("--password-hash JSON is not a Keycloak credential")?
    } else {
        serde_json::Value::String(text.to_owned())
    };
    Ok(Some(
        serde_json::from_value(value).context("--password-hash is not usable")?,
    ))
}

async fn users(client: &Client, output: Output, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::List {
            username,
            email,
            limit,
            after,
        } => {
            let query = UserFilterQuery {
                username,
                email,
                after,
                limit,
            };
            let page: Page<UserView> = client.list("/users", &query).await?;
            print(output, &page, || user_rows(&page.items))?;
            if output == Output::Table
                && let Some(next) = &page.next
            {
                eprintln!("more: --after {next}");
            }
        }
        UserCommand::Get { user } => {
            let id = client.user_id(&user).await?;
            let user: UserView = client.get(&format!("/users/{id}")).await?;
            print(output, &user, || user_rows(std::slice::from_ref(&user)))?;
        }
        UserCommand::Create { username, fields } => {
            let input = CreateUser {
                username,
                email: fields.email.clone(),
                email_verified: fields.email_verified.then_some(true),
                display_name: fields.name.clone(),
                user_type: fields.r#type.map(UserType::from),
                active: None,
                attributes: parse_attributes(fields.attributes.as_deref())?,
                password: read_password(&fields)?,
                password_hash: parse_hash(fields.password_hash.as_deref())?,
            };
            let created: UserView = client.send(Method::POST, "/users", &input).await?;
            print(output, &created, || {
                user_rows(std::slice::from_ref(&created))
            })?;
        }
        UserCommand::Update {
            user,
            rename,
            no_email,
            fields,
        } => {
            let id = client.user_id(&user).await?;
            let email = if no_email {
                Some(None)
            } else {
                fields.email.clone().map(Some)
            };
            let input = UpdateUser {
                username: rename,
                email,
                email_verified: fields.email_verified.then_some(true),
                display_name: fields.name.clone(),
                user_type: fields.r#type.map(UserType::from),
                attributes: parse_attributes(fields.attributes.as_deref())?,
                password: read_password(&fields)?,
                password_hash: parse_hash(fields.password_hash.as_deref())?,
                ..Default::default()
            };
            let updated: UserView = client
                .send(Method::PATCH, &format!("/users/{id}"), &input)
                .await?;
            print(output, &updated, || {
                user_rows(std::slice::from_ref(&updated))
            })?;
        }
        UserCommand::SetActive { user, active } => {
            let id = client.user_id(&user).await?;
            let input = UpdateUser {
                active: Some(active),
                ..Default::default()
            };
            let updated: UserView = client
                .send(Method::PATCH, &format!("/users/{id}"), &input)
                .await?;
            print(output, &updated, || {
                user_rows(std::slice::from_ref(&updated))
            })?;
        }
        UserCommand::Delete { user } => {
            let id = client.user_id(&user).await?;
            client.delete(&format!("/users/{id}")).await?;
            eprintln!("deleted user {id}");
        }
        UserCommand::Groups { user, effective } => {
            let id = client.user_id(&user).await?;
            let query = MembershipQuery { effective };
            let groups: Vec<GroupView> =
                client.list(&format!("/users/{id}/groups"), &query).await?;
            print(output, &groups, || group_rows(&groups))?;
        }
    }
    Ok(())
}

async fn groups(client: &Client, output: Output, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::List { name, limit, after } => {
            let query = GroupFilterQuery { name, after, limit };
            let page: Page<GroupView> = client.list("/groups", &query).await?;
            print(output, &page, || group_rows(&page.items))?;
        }
        GroupCommand::Get { group } => {
            let id = client.group_id(&group).await?;
            let group: GroupView = client.get(&format!("/groups/{id}")).await?;
            print(output, &group, || group_rows(std::slice::from_ref(&group)))?;
        }
        GroupCommand::Create {
            name,
            parent,
            attributes,
        } => {
            let parent = match parent {
                Some(parent) => Some(client.group_id(&parent).await?),
                None => None,
            };
            let input = CreateGroup {
                name,
                parent,
                attributes: parse_attributes(attributes.as_deref())?,
            };
            let created: GroupView = client.send(Method::POST, "/groups", &input).await?;
            print(output, &created, || {
                group_rows(std::slice::from_ref(&created))
            })?;
        }
        GroupCommand::Update {
            group,
            rename,
            parent,
            no_parent,
        } => {
            let id = client.group_id(&group).await?;
            let parent = match (parent, no_parent) {
                (Some(parent), _) => Some(Some(client.group_id(&parent).await?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let input = UpdateGroup {
                name: rename,
                parent,
                attributes: None,
            };
            let updated: GroupView = client
                .send(Method::PATCH, &format!("/groups/{id}"), &input)
                .await?;
            print(output, &updated, || {
                group_rows(std::slice::from_ref(&updated))
            })?;
        }
        GroupCommand::Delete { group } => {
            let id = client.group_id(&group).await?;
            client.delete(&format!("/groups/{id}")).await?;
            eprintln!("deleted group {id}");
        }
        GroupCommand::Members { group, effective } => {
            let id = client.group_id(&group).await?;
            let query = MembershipQuery { effective };
            let users: Vec<UserView> = client
                .list(&format!("/groups/{id}/members"), &query)
                .await?;
            print(output, &users, || user_rows(&users))?;
        }
        GroupCommand::AddMember { group, user } => {
            let group = client.group_id(&group).await?;
            let user = client.user_id(&user).await?;
            client
                .call::<_, serde_json::Value>(
                    Method::POST,
                    &format!("/groups/{group}/members"),
                    Some(&AddMember { user }),
                )
                .await?;
            eprintln!("added {user} to {group}");
        }
        GroupCommand::RemoveMember { group, user } => {
            let group = client.group_id(&group).await?;
            let user = client.user_id(&user).await?;
            client
                .delete(&format!("/groups/{group}/members/{user}"))
                .await?;
            eprintln!("removed {user} from {group}");
        }
    }
    Ok(())
}

async fn tokens(client: &Client, output: Output, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::List { user } => {
            let user = match user {
                Some(user) => Some(client.user_id(&user).await?),
                None => None,
            };
            let tokens: Vec<TokenView> = client.list("/tokens", &TokenQuery { user }).await?;
            print(output, &tokens, || token_rows(&tokens))?;
        }
        TokenCommand::Create {
            name,
            user,
            admin,
            expires_at,
        } => {
            let user = match user {
                Some(user) => Some(client.user_id(&user).await?),
                None => None,
            };
            let scope = Some(if admin {
                TokenScope::Admin
            } else {
                TokenScope::User
            });
            let input = CreateToken {
                user,
                name,
                scope,
                expires_at,
            };
            let created: CreatedToken = client.send(Method::POST, "/tokens", &input).await?;
            print(output, &created, || {
                token_rows(std::slice::from_ref(&created.token))
            })?;
            if output == Output::Table {
                crate::say!("\nsecret (shown once): {}", created.secret);
            }
        }
        TokenCommand::Revoke { id } => {
            client.delete(&format!("/tokens/{id}")).await?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(())
}

async fn events(client: &Client, output: Output, command: EventCommand) -> anyhow::Result<()> {
    let EventCommand::List {
        action,
        target,
        limit,
    } = command;
    let query = EventQuery {
        action,
        target,
        limit,
        ..Default::default()
    };
    let page: Page<EventView> = client.list("/events", &query).await?;
    print(output, &page, || {
        table(
            &["TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "CLIENT"],
            page.items.iter().map(|event| {
                vec![
                    event.created_at.clone(),
                    event.actor.clone(),
                    event.action.clone(),
                    event.target_id.clone().unwrap_or_default(),
                    event.outcome.clone(),
                    event.client_ip.clone().unwrap_or_default(),
                ]
            }),
        )
    })
}
