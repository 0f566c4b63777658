//! Tenants: the id rule, the operations every entry point shares (CLI without a
//! daemon, the daemon's admin socket), and the views they return.

mod ops;
mod settings;

pub use crate::ids::{InvalidTenantId, TenantId, TENANT_ID_RULE};
pub use ops::{execute, TenantError, TenantRequest, TenantResponse};
pub use settings::{parse_e164, InvalidPhone, SettingsError, TenantSettings};
pub use views::{
    StateChangeView, TenantCreated, TenantDetail, TenantRemoved, TenantSigningSecret, TenantToken,
    TenantView, WhatsappView,
};

mod views;
