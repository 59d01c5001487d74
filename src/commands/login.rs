//! `lmi login sso` and `lmi logout sso`.

use super::Ctx;
use crate::cli::LoginSsoArgs;
use crate::error::{Error, Result};

pub fn login_sso(_ctx: &Ctx, _args: &LoginSsoArgs) -> Result<u8> {
    Err(Error::internal("not implemented"))
}

pub fn logout_sso(_ctx: &Ctx) -> Result<u8> {
    Err(Error::internal("not implemented"))
}
