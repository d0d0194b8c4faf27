//! Deleting what has expired: [`ExpiredDeletion`] for [`RedbStore`], one write transaction
//! over every kind of record's purge.

use std::time::SystemTime;

use super::{RedbStore, devices, email_tokens, records::millis, resets, sessions, users};
use crate::{
    error::StoreError,
    store::{ExpiredDeletion, Purged},
};

impl ExpiredDeletion for RedbStore {
    async fn purge_expired(
        &self,
        now: SystemTime,
        idle_before: SystemTime,
        unconfirmed_before: SystemTime,
    ) -> Result<Purged, StoreError> {
        self.write(move |txn| {
            let (now, idle_before) = (millis(now), millis(idle_before));
            Ok(Purged {
                email_tokens: email_tokens::purge(txn, now)?,
                sessions: sessions::purge(txn, now, idle_before)?,
                reset_tokens: resets::purge(txn, now)?,
                device_tokens: devices::purge(txn, now)?,
                // Last: what has expired of theirs is counted above, the rest goes with them.
                unconfirmed_users: users::purge_unconfirmed(txn, millis(unconfirmed_before))?,
            })
        })
        .await
    }
}
