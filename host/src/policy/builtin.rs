//! The built-in policy types.

use super::{PolicyConfig, PolicyError, PolicyRequest, PolicyResult};
use crate::identity::Directory;
use crate::store;

/// Runs one built-in policy.
///
/// # Errors
/// The policy cannot read what it needs.
pub async fn run(
    directory: &Directory,
    config: &PolicyConfig,
    request: &PolicyRequest,
) -> Result<PolicyResult, PolicyError> {
    match config {
        PolicyConfig::Static { pass: true, .. } => Ok(PolicyResult::pass()),
        PolicyConfig::Static {
            pass: false,
            message,
        } => Ok(PolicyResult::fail(
            message
                .clone()
                .unwrap_or_else(|| "access denied".to_owned()),
        )),
        PolicyConfig::ClientNetwork { networks } => Ok(client_network(networks, request)),
        PolicyConfig::GroupMembership { group } => {
            group_membership(directory, group, request).await
        }
        PolicyConfig::PasswordStrength {
            field,
            min_length,
            min_score,
        } => Ok(password_strength(request, field, *min_length, *min_score)),
        PolicyConfig::Reputation {
            threshold,
            check_user,
            check_ip,
        } => reputation(directory, request, *threshold, *check_user, *check_ip).await,
    }
}

fn client_network(networks: &[ipnet::IpNet], request: &PolicyRequest) -> PolicyResult {
    let Some(ip) = request.client_ip else {
        return PolicyResult::fail("the client address is unknown");
    };
    // An IPv4 client seen through an IPv6 socket matches IPv4 ranges.
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    };
    if networks.iter().any(|network| network.contains(&ip)) {
        PolicyResult::pass()
    } else {
        PolicyResult::fail(format!(
            "client address {ip} is outside the allowed networks"
        ))
    }
}

async fn group_membership(
    directory: &Directory,
    group: &str,
    request: &PolicyRequest,
) -> Result<PolicyResult, PolicyError> {
    let Some(user) = &request.user else {
        return Ok(PolicyResult::fail("no user to check"));
    };
    let groups = directory
        .groups_of(user.id, true)
        .await
        .map_err(|error| PolicyError::Lookup(error.to_string()))?;
    let wanted = crate::identity::user::lookup_key(group);
    if groups
        .iter()
        .any(|found| crate::identity::user::lookup_key(&found.name) == wanted)
    {
        Ok(PolicyResult::pass())
    } else {
        Ok(PolicyResult::fail(format!("not a member of {group}")))
    }
}

fn password_strength(
    request: &PolicyRequest,
    field: &str,
    min_length: usize,
    min_score: u8,
) -> PolicyResult {
    let Some(password) = request.prompt.get(field).and_then(|value| value.as_str()) else {
        return PolicyResult::fail("no password to check");
    };
    if password.chars().count() < min_length {
        return PolicyResult::fail(format!("use at least {min_length} characters"));
    }
    // The user's own names make a password weaker; zxcvbn takes them.
    let mut hints: Vec<&str> = Vec::new();
    for key in ["username", "email", "name"] {
        if let Some(text) = request.prompt.get(key).and_then(|value| value.as_str()) {
            hints.push(text);
        }
    }
    let estimate = zxcvbn::zxcvbn(password, &hints);
    if u8::from(estimate.score()) >= min_score {
        return PolicyResult::pass();
    }
    let mut messages = vec!["this password is too easy to guess".to_owned()];
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            messages.push(warning.to_string());
        }
        messages.extend(feedback.suggestions().iter().map(ToString::to_string));
    }
    PolicyResult {
        passed: false,
        messages,
    }
}

async fn reputation(
    directory: &Directory,
    request: &PolicyRequest,
    threshold: i64,
    check_user: bool,
    check_ip: bool,
) -> Result<PolicyResult, PolicyError> {
    let now = directory.clock().now();
    let mut conn = directory
        .store()
        .conn()
        .await
        .map_err(|error| PolicyError::Lookup(error.to_string()))?;
    let lookup = |error: store::StoreError| PolicyError::Lookup(error.to_string());
    if check_user && let Some(user) = &request.user {
        let score = store::reputation::score(&mut conn, "user", &user.id.to_string(), now)
            .await
            .map_err(lookup)?;
        if score > threshold {
            return Ok(PolicyResult::fail(
                "too many failed sign-ins for this account; wait a while",
            ));
        }
    }
    if check_ip && let Some(ip) = request.client_ip {
        let score = store::reputation::score(&mut conn, "ip", &ip.to_string(), now)
            .await
            .map_err(lookup)?;
        if score > threshold {
            return Ok(PolicyResult::fail(
                "too many failed sign-ins from this address; wait a while",
            ));
        }
    }
    Ok(PolicyResult::pass())
}
