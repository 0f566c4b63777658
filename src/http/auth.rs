//! Who is calling the tenant API, and whether they may touch a tenant.
//!
//! A tenant's token reaches only that tenant; the internal secret reaches all.
//! Any other tenant (existing or not) answers 404, so a token never learns
//! which other tenants exist.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;

use super::{ApiError, AppState};
use crate::ids::TenantId;
use crate::secrets::{secrets_equal, token_hash, token_matches};

#[derive(Debug, Clone)]
pub enum Caller {
    /// Presented the internal secret.
    Admin,
    Tenant(TenantId),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <tenant token>`"))?
            .to_string();
        if secrets_equal(&presented, &state.internal_secret) {
            return Ok(Caller::Admin);
        }
        // The lookup by hash is an index probe on SHA-256 of a 256-bit random
        // token, so its timing tells nothing useful; the final word is the
        // constant-time comparison.
        let hash = token_hash(&presented);
        let owner = state.store.tenants().by_token_hash(&hash).await?;
        match owner {
            Some((id, stored)) if token_matches(&presented, &stored) => TenantId::parse(&id)
                .map(Caller::Tenant)
                .map_err(|e| ApiError::internal(format!("stored tenant id is invalid: {e}"))),
            _ => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}

/// Only the internal secret passes: for the operator's detail on routes that
/// are otherwise public (health). Everyone else, a tenant's token included,
/// gets 401, so a public route never shows one tenant another's data.
pub async fn require_internal_secret(parts: &mut Parts, state: &AppState) -> Result<(), ApiError> {
    match Caller::from_request_parts(parts, state).await {
        Ok(Caller::Admin) => Ok(()),
        Ok(Caller::Tenant(_)) => Err(ApiError::unauthorized("this detail needs the internal secret")),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            Err(ApiError::unauthorized("send `Authorization: Bearer <internal secret>` for this detail"))
        }
        Err(e) => Err(e),
    }
}

impl Caller {
    /// Validates `raw` as a tenant id and checks that the caller may act on
    /// it and that it exists. Every other case is 404 (or 400 for a bad id).
    pub async fn authorize(&self, raw: &str, state: &AppState) -> Result<TenantId, ApiError> {
        let id =
            TenantId::parse(raw).map_err(|e| ApiError::bad_request("invalid_tenant_id", e.to_string()))?;
        let allowed = match self {
            Caller::Admin => true,
            Caller::Tenant(own) => own == &id,
        };
        let exists = state.store.tenants().exists(id.as_str()).await?;
        if allowed && exists {
            Ok(id)
        } else {
            Err(ApiError::not_found(format!("no tenant `{id}`")))
        }
    }
}
