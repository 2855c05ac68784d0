//! The OpenAPI document, generated from the handlers and wire types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{blueprints, events, flows, groups, tokens, users};
use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "Castellan admin API", description = "Users, groups, tokens and the audit log."),
    paths(
        users::list, users::create, users::show, users::update, users::remove, users::groups,
        users::me,
        groups::list, groups::create, groups::show, groups::update, groups::remove,
        groups::members, groups::add_member, groups::remove_member,
        tokens::list, tokens::create, tokens::show, tokens::revoke,
        events::list,
        blueprints::apply,
        flows::api_current, flows::api_answer,
    ),
    components(schemas(
        api::ErrorBody, api::ErrorDetail, api::UserView, api::CreateUser, api::UpdateUser,
        api::GroupView, api::CreateGroup, api::UpdateGroup, api::AddMember, api::TokenView,
        api::CreateToken, api::CreatedToken, api::EventView,
        flows::FlowStepView, crate::flow::challenge::Challenge, crate::flow::challenge::Answer,
        crate::blueprint::Report, crate::blueprint::Counts, crate::blueprint::EntryReport,
        crate::blueprint::Change, crate::blueprint::EntryKind,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/v1/openapi.json`.
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
