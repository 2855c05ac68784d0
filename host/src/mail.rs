//! Outgoing email over SMTP, through lettre.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::redact_url;

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No SMTP server is configured.
    #[error("email is not configured (set email.smtp_url)")]
    NotConfigured,
    /// The configuration cannot work.
    #[error("invalid email configuration: {0}")]
    Invalid(String),
    /// The address cannot be used.
    #[error("invalid address")]
    Address,
    /// The server refused or could not be reached.
    #[error("sending failed: {0}")]
    Send(String),
}

/// Sends mail, or explains that it cannot.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("configured", &self.transport.is_some())
            .finish()
    }
}

impl Mailer {
    /// A mailer for `smtp_url` (`smtp://host:port`, `smtps://user:pass@host`,
    /// `smtp://host?tls=required`), or one that refuses to send when unset.
    ///
    /// # Errors
    /// An unparseable URL or sender.
    pub fn new(smtp_url: Option<&SecretString>, from: &str) -> Result<Mailer, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::Invalid(format!("sender {from:?}")))?;
        let transport = match smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|error| {
                        MailError::Invalid(format!("{}: {error}", redact_url(url.expose_secret())))
                    })?
                    .timeout(Some(std::time::Duration::from_secs(10)))
                    .build(),
            ),
            None => None,
        };
        Ok(Mailer { transport, from })
    }

    /// Whether an SMTP server is configured.
    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends a plain-text message.
    ///
    /// # Errors
    /// Not configured, a bad address, or the server failed.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let Some(transport) = &self.transport else {
            return Err(MailError::NotConfigured);
        };
        let to: Mailbox = to.parse().map_err(|_| MailError::Address)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(body)
            .map_err(|error| MailError::Send(error.to_string()))?;
        transport
            .send(message)
            .await
            .map_err(|error| MailError::Send(error.to_string()))?;
        Ok(())
    }
}
