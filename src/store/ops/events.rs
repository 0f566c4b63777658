//! The events operations of a [`Store`], each on whichever backend it has.

use crate::store::events::{EventFilter, EventRow};
use crate::store::postgres::events as postgres;
use crate::store::sqlite::events as sqlite;
use crate::store::{Store, StoreResult};

/// The event operations of a [`Store`] (storing them goes through the
/// [`EventWriter`](super::EventWriter)).
pub struct Events<'a>(&'a Store);

impl Store {
    pub fn events(&self) -> Events<'_> {
        Events(self)
    }
}

impl Events<'_> {
    pub async fn get(&self, id: &str) -> StoreResult<Option<EventRow>> {
        let id = id.to_owned();
        dispatch!(self.0, |c| sqlite::get(c, &id), |p| postgres::get(p, &id))
    }

    pub async fn list(&self, filter: EventFilter) -> StoreResult<Vec<EventRow>> {
        dispatch!(self.0, |c| sqlite::list(c, &filter), |p| postgres::list(p, &filter))
    }

    pub async fn count(&self) -> StoreResult<i64> {
        dispatch!(self.0, |c| sqlite::count(c), |p| postgres::count(p))
    }
}
