//! redb's errors as [`StoreError::Backend`], so that `?` works on every redb call.

use crate::error::{BackendError, StoreError};

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        Self::Backend(BackendError::new(e))
    }
}

/// `From` for each of redb's specific error types, through [`redb::Error`].
macro_rules! redb_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::from(redb::Error::from(e))
            }
        }
    )*};
}
redb_errors!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
