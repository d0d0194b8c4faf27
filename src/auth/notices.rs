//! Security notices: telling an account's owner, through the mailer, that one of
//! its authentication factors changed or was used (OWASP ASVS 4.0.3 2.5.5). Each success
//! point calls [`Auth::notify`] once; the notice is delivered detached, as every mail is.

use std::net::IpAddr;

use super::Auth;
use crate::{
    hook::{Mail, NoticeKind, SecurityNotice},
    store::Store,
    user::User,
};

impl<S: Store> Auth<S> {
    /// Hands the mailer a [`SecurityNotice`] of `kind` for `user`'s address,
    /// from `client`, now: detached, nothing without a mailer. The notice holds no secret.
    pub(super) fn notify(&self, user: &User, kind: NoticeKind, client: Option<IpAddr>) {
        let notice = SecurityNotice {
            kind,
            user_id: user.id,
            email: user.email.clone(),
            at: self.now(),
            client,
        };
        self.send_mail(user.email.clone(), Mail::SecurityNotice(notice));
    }
}
