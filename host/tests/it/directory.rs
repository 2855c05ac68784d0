//! Identity core through the library, on every configured engine.

use castellan::api::{CreateGroup, CreateUser, UpdateGroup, UpdateUser, UserFilterQuery};
use castellan::event::{AuditContext, EventFilter};
use castellan::identity::IdentityError;
use castellan::identity::password::{self, ImportedHash};
use castellan::identity::user::UserId;
use castellan::store::{self, Taken};
use secrecy::SecretString;

use crate::support::{TestDb, foreign_hashes};

fn admin() -> AuditContext {
    AuditContext {
        actor: "user:test".to_owned(),
        client_ip: Some("127.0.0.1".to_owned()),
    }
}

fn with_password(username: &str, password: &str) -> CreateUser {
    CreateUser {
        password: Some(SecretString::from(password.to_owned())),
        ..CreateUser::named(username)
    }
}

async fn event_count(db: &castellan::identity::Directory, action: &str) -> usize {
    let mut conn = db.store().conn().await.unwrap();
    let filter = EventFilter {
        action: Some(action.to_owned()),
        limit: 500,
        ..Default::default()
    };
    store::events::list(&mut conn, &filter).await.unwrap().len()
}

#[tokio::test]
async fn usernames_and_emails_are_unique_regardless_of_case() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        let input = CreateUser {
            email: Some("Ada@Example.org".to_owned()),
            ..CreateUser::named("Ada")
        };
        directory.create_user(&admin(), input).await.unwrap();

        let same_name = directory
            .create_user(&admin(), CreateUser::named("ada"))
            .await;
        assert!(
            matches!(same_name, Err(IdentityError::Conflict(Taken::Username))),
            "{}",
            db.backend
        );
        let same_email = CreateUser {
            email: Some("ada@example.ORG".to_owned()),
            ..CreateUser::named("bea")
        };
        let same_email = directory.create_user(&admin(), same_email).await;
        assert!(
            matches!(same_email, Err(IdentityError::Conflict(Taken::Email))),
            "{}",
            db.backend
        );

        // Nothing of the refused users was written; their failures were.
        let all = directory.users(&UserFilterQuery::default()).await.unwrap();
        assert_eq!(all.len(), 1, "{}", db.backend);
        assert_eq!(
            event_count(&directory, "user.create").await,
            3,
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn users_filter_and_page_by_username() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        for name in ["carol", "alice", "bob", "dave", "alina"] {
            let input = CreateUser {
                email: Some(format!("{name}@corp.example")),
                ..CreateUser::named(name)
            };
            directory.create_user(&admin(), input).await.unwrap();
        }
        let first = UserFilterQuery {
            limit: Some(2),
            ..Default::default()
        };
        let page = directory.users(&first).await.unwrap();
        let names: Vec<_> = page.iter().map(|user| user.username.as_str()).collect();
        assert_eq!(names, ["alice", "alina"], "{}", db.backend);
        let second = UserFilterQuery {
            limit: Some(2),
            after: Some("alina".to_owned()),
            ..Default::default()
        };
        let names: Vec<_> = directory
            .users(&second)
            .await
            .unwrap()
            .into_iter()
            .map(|user| user.username)
            .collect();
        assert_eq!(names, ["bob", "carol"], "{}", db.backend);

        let filtered = UserFilterQuery {
            username: Some("AL".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            directory.users(&filtered).await.unwrap().len(),
            2,
            "{}",
            db.backend
        );
        let by_email = UserFilterQuery {
            email: Some("dave@".to_owned()),
            ..Default::default()
        };
        let found = directory.users(&by_email).await.unwrap();
        assert_eq!(found.len(), 1, "{}", db.backend);
        assert_eq!(found[0].username, "dave");
        let wildcard = UserFilterQuery {
            username: Some("%".to_owned()),
            ..Default::default()
        };
        assert!(
            directory.users(&wildcard).await.unwrap().is_empty(),
            "% is literal"
        );
        let underscore = UserFilterQuery {
            username: Some("a_i".to_owned()),
            ..Default::default()
        };
        assert!(
            directory.users(&underscore).await.unwrap().is_empty(),
            "_ is literal"
        );
    }
}

#[tokio::test]
async fn update_changes_only_given_fields_and_null_clears_email() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        let input = CreateUser {
            email: Some("eve@example.org".to_owned()),
            display_name: Some("Eve".to_owned()),
            ..CreateUser::named("eve")
        };
        let user = directory.create_user(&admin(), input).await.unwrap();
        let change: UpdateUser =
            serde_json::from_str(r#"{"email": null, "active": false}"#).unwrap();
        let updated = directory
            .update_user(&admin(), user.id, change)
            .await
            .unwrap();
        assert_eq!(updated.email, None);
        assert!(!updated.active);
        assert_eq!(updated.display_name, "Eve");
        let stored = directory.user(user.id).await.unwrap();
        assert_eq!(stored.email, None, "{}", db.backend);
        assert!(!stored.active, "{}", db.backend);

        let missing = directory
            .update_user(
                &admin(),
                UserId(uuid::Uuid::new_v4()),
                UpdateUser::default(),
            )
            .await;
        assert!(matches!(missing, Err(IdentityError::NotFound("user"))));
    }
}

#[tokio::test]
async fn nested_groups_give_effective_membership_both_ways() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        let staff = directory
            .create_group(&admin(), group("staff", None))
            .await
            .unwrap();
        let eng = directory
            .create_group(&admin(), group("eng", Some(staff.id.0)))
            .await
            .unwrap();
        let infra = directory
            .create_group(&admin(), group("infra", Some(eng.id.0)))
            .await
            .unwrap();
        let ada = directory
            .create_user(&admin(), CreateUser::named("ada"))
            .await
            .unwrap();
        let bob = directory
            .create_user(&admin(), CreateUser::named("bob"))
            .await
            .unwrap();
        directory
            .add_member(&admin(), infra.id, ada.id)
            .await
            .unwrap();
        directory
            .add_member(&admin(), staff.id, bob.id)
            .await
            .unwrap();
        // Adding twice is harmless.
        directory
            .add_member(&admin(), staff.id, bob.id)
            .await
            .unwrap();

        let direct = directory.members(staff.id, false).await.unwrap();
        assert_eq!(names(&direct), ["bob"], "{}", db.backend);
        let effective = directory.members(staff.id, true).await.unwrap();
        assert_eq!(names(&effective), ["ada", "bob"], "{}", db.backend);
        let of_ada: Vec<_> = directory
            .groups_of(ada.id, true)
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(of_ada, ["eng", "infra", "staff"], "{}", db.backend);
        assert_eq!(directory.groups_of(ada.id, false).await.unwrap().len(), 1);

        directory
            .remove_member(&admin(), infra.id, ada.id)
            .await
            .unwrap();
        assert!(
            directory.groups_of(ada.id, true).await.unwrap().is_empty(),
            "{}",
            db.backend
        );
        let again = directory.remove_member(&admin(), infra.id, ada.id).await;
        assert!(matches!(again, Err(IdentityError::NotFound("membership"))));
    }
}

#[tokio::test]
async fn a_group_cannot_be_nested_inside_itself() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        let top = directory
            .create_group(&admin(), group("top", None))
            .await
            .unwrap();
        let mid = directory
            .create_group(&admin(), group("mid", Some(top.id.0)))
            .await
            .unwrap();
        let low = directory
            .create_group(&admin(), group("low", Some(mid.id.0)))
            .await
            .unwrap();
        for parent in [low.id.0, top.id.0] {
            let change = UpdateGroup {
                parent: Some(Some(parent)),
                ..Default::default()
            };
            let refused = directory.update_group(&admin(), top.id, change).await;
            assert!(
                matches!(
                    refused,
                    Err(IdentityError::Invalid {
                        field: "parent",
                        ..
                    })
                ),
                "{}: {refused:?}",
                db.backend
            );
        }
        assert_eq!(directory.group(top.id).await.unwrap().parent, None);
        // Deleting the middle group lifts its child to the top level.
        directory.delete_group(&admin(), mid.id).await.unwrap();
        assert_eq!(
            directory.group(low.id).await.unwrap().parent,
            None,
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn deleting_a_user_removes_memberships_and_tokens() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        let staff = directory
            .create_group(&admin(), group("staff", None))
            .await
            .unwrap();
        let ada = directory
            .create_user(&admin(), CreateUser::named("ada"))
            .await
            .unwrap();
        directory
            .add_member(&admin(), staff.id, ada.id)
            .await
            .unwrap();
        let new = castellan::token::NewToken {
            user_id: ada.id,
            name: "laptop".to_owned(),
            scope: castellan::token::TokenScope::User,
            expires_at: None,
            secret: None,
        };
        let (_, secret) = directory.issue_token(&admin(), new).await.unwrap();
        use secrecy::ExposeSecret as _;
        assert!(
            directory
                .authenticate_token(secret.expose_secret())
                .await
                .unwrap()
                .is_some()
        );

        directory.delete_user(&admin(), ada.id).await.unwrap();
        assert!(
            directory.members(staff.id, true).await.unwrap().is_empty(),
            "{}",
            db.backend
        );
        assert!(
            directory
                .authenticate_token(secret.expose_secret())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            directory.tokens(None).await.unwrap().is_empty(),
            "{}",
            db.backend
        );
        let again = directory.delete_user(&admin(), ada.id).await;
        assert!(matches!(again, Err(IdentityError::NotFound("user"))));
    }
}

#[tokio::test]
async fn tokens_expire_and_revoke() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        let ada = directory
            .create_user(&admin(), CreateUser::named("ada"))
            .await
            .unwrap();
        let now = directory.clock().now();
        let new = castellan::token::NewToken {
            user_id: ada.id,
            name: "short".to_owned(),
            scope: castellan::token::TokenScope::User,
            expires_at: Some(now + 60_000),
            secret: None,
        };
        let (token, secret) = directory.issue_token(&admin(), new.clone()).await.unwrap();
        use secrecy::ExposeSecret as _;
        assert!(secret.expose_secret().starts_with("cst_"));
        let found = directory
            .authenticate_token(secret.expose_secret())
            .await
            .unwrap()
            .unwrap();
        assert!(!found.admin, "a user token of a non-admin is not admin");
        directory.clock().advance(60_000);
        assert!(
            directory
                .authenticate_token(secret.expose_secret())
                .await
                .unwrap()
                .is_none(),
            "expired"
        );

        let (_, other) = directory
            .issue_token(
                &admin(),
                castellan::token::NewToken {
                    expires_at: None,
                    ..new.clone()
                },
            )
            .await
            .unwrap();
        let listed = directory.tokens(Some(ada.id)).await.unwrap();
        assert_eq!(listed.len(), 2);
        let live = listed.iter().find(|t| t.id != token.id).unwrap();
        directory.revoke_token(&admin(), live.id).await.unwrap();
        assert!(
            directory
                .authenticate_token(other.expose_secret())
                .await
                .unwrap()
                .is_none(),
            "revoked"
        );

        // Only the hash is stored.
        let mut conn = directory.store().conn().await.unwrap();
        let hashes = store::tokens::find_by_hash(&mut conn, other.expose_secret())
            .await
            .unwrap();
        assert!(
            hashes.is_none(),
            "{}: the secret itself is not a stored value",
            db.backend
        );

        let admin_scope = castellan::token::NewToken {
            scope: castellan::token::TokenScope::Admin,
            expires_at: None,
            ..new
        };
        let refused = directory.issue_token(&admin(), admin_scope).await;
        assert!(matches!(
            refused,
            Err(IdentityError::Invalid { field: "scope", .. })
        ));
    }
}

#[tokio::test]
async fn foreign_hashes_import_verify_and_upgrade_on_login() {
    let fixtures = foreign_hashes();
    let fixtures = fixtures.as_array().unwrap();
    for db in TestDb::all().await {
        let directory = db.directory().await;
        for case in fixtures {
            let username = case["username"].as_str().unwrap();
            let hash: ImportedHash = serde_json::from_value(case["stored"].clone()).unwrap();
            let input = CreateUser {
                password_hash: Some(hash),
                ..CreateUser::named(username)
            };
            directory.create_user(&admin(), input).await.unwrap();
        }
        for case in fixtures {
            let username = case["username"].as_str().unwrap();
            let password = case["password"].as_str().unwrap();
            let wrong = directory
                .check_password(username, &format!("{password}x"))
                .await
                .unwrap();
            assert!(
                wrong.is_none(),
                "{}: wrong password for {username}",
                db.backend
            );
            let user = directory.check_password(username, password).await.unwrap();
            assert!(
                user.is_some(),
                "{}: {} ({})",
                db.backend,
                username,
                case["format"]
            );

            // After the login the stored hash is argon2id with at least our
            // parameters: foreign and weaker hashes were replaced by ours.
            let mut conn = directory.store().conn().await.unwrap();
            let (_, stored) = store::users::find_with_hash(&mut conn, username)
                .await
                .unwrap()
                .unwrap();
            let stored = stored.unwrap();
            let stronger = case["format"] == "django-argon2";
            if !stronger {
                assert!(
                    stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
                    "{username}: {stored}"
                );
            }
            assert_eq!(
                password::verify(password, &stored).unwrap(),
                password::Verified::Match { upgrade: false }
            );
            // And it still verifies through the directory.
            assert!(
                directory
                    .check_password(username, password)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
    }
}

#[tokio::test]
async fn bad_hashes_are_refused_and_nothing_is_written() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        for bad in ["", "plaintext", "$2b$99$abc", "pbkdf2_sha256$x$salt$@@@"] {
            let input = CreateUser {
                password_hash: Some(ImportedHash::Text(bad.to_owned())),
                ..CreateUser::named("mallory")
            };
            let refused = directory.create_user(&admin(), input).await;
            let Err(IdentityError::PasswordHash(error)) = refused else {
                panic!("{bad:?} was accepted: {refused:?}");
            };
            if !bad.is_empty() {
                assert!(
                    !error.to_string().contains(bad),
                    "the error echoes the hash"
                );
            }
        }
        assert!(
            directory
                .users(&UserFilterQuery::default())
                .await
                .unwrap()
                .is_empty(),
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn login_checks_unknown_users_inactive_users_and_emails() {
    for db in TestDb::all().await {
        let directory = db.directory().await;
        let input = CreateUser {
            email: Some("ada@example.org".to_owned()),
            ..with_password("ada", "pw-ada-1234")
        };
        let ada = directory.create_user(&admin(), input).await.unwrap();
        assert!(
            directory
                .check_password("nobody", "pw-ada-1234")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            directory
                .check_password("ADA@example.org", "pw-ada-1234")
                .await
                .unwrap()
                .is_some()
        );
        let off = UpdateUser {
            active: Some(false),
            ..Default::default()
        };
        directory.update_user(&admin(), ada.id, off).await.unwrap();
        assert!(
            directory
                .check_password("ada", "pw-ada-1234")
                .await
                .unwrap()
                .is_none(),
            "inactive"
        );
        // A user without a password never signs in with one.
        directory
            .create_user(&admin(), CreateUser::named("svc"))
            .await
            .unwrap();
        assert!(directory.check_password("svc", "").await.unwrap().is_none());
    }
}

fn group(name: &str, parent: Option<uuid::Uuid>) -> CreateGroup {
    CreateGroup {
        name: name.to_owned(),
        parent,
        attributes: None,
    }
}

fn names(users: &[castellan::identity::user::User]) -> Vec<&str> {
    users.iter().map(|user| user.username.as_str()).collect()
}
