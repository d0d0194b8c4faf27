//! Deleting what has expired: [`ExpiredDeletion`] for [`PgStore`], one transaction over every
//! table's purge (the throttle's expired counters too), which tells every instance's cache.

use std::time::SystemTime;

use crate::store::postgres::{PgStore, devices, email_tokens, resets, sessions, throttle, users};
use crate::{
    error::StoreError,
    store::{ExpiredDeletion, Purged, cache::Dirty},
};

impl ExpiredDeletion for PgStore {
    async fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
        unconfirmed_before: SystemTime,
    ) -> Result<Purged, StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                // Expired throttle counters too: they count as absent already.
                throttle::purge(tx, now, i64::MAX).await?;
                let mut purged = Purged {
                    email_tokens: email_tokens::purge(tx, now).await?,
                    sessions: sessions::purge(tx, now, idle_before).await?,
                    reset_tokens: resets::purge(tx, now).await?,
                    device_tokens: devices::purge(tx, now).await?,
                    unconfirmed_users: 0,
                };
                // Last: what has expired of theirs is counted above, the rest goes with them.
                let gone = users::purge_unconfirmed(tx, unconfirmed_before).await?;
                purged.unconfirmed_users = gone.len();
                let mut dirty = Dirty::default();
                dirty
                    .users
                    .extend(gone.iter().map(|&id| super::unsigned(id)));
                // Removed sessions are not listed (a purge may remove many): every cache
                // starts again.
                dirty.all = purged.sessions > 0;
                Ok((purged, dirty))
            })
        })
        .await
    }
}
