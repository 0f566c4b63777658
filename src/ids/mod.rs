//! Names that come from outside and end up in paths, queries and URLs,
//! checked once at the edge by every entry point: tenant ids and Twilio
//! resource SIDs. Nothing here knows what a tenant or a call is; the modules
//! that do build on these.

mod tenant;
pub mod twilio_sid;

pub use tenant::{InvalidTenantId, TenantId, TENANT_ID_RULE};
